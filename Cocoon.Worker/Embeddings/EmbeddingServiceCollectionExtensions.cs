using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Worker.Embeddings;

public static class EmbeddingServiceCollectionExtensions
{
    /// <summary>
    /// Registers the embedding model (Embeddings:*) as the worker's model: settings validated now, the ONNX Runtime
    /// session created when the host starts. Call it instead of AddLlamaInference and before AddWorkerHost.
    /// </summary>
    public static IServiceCollection AddOnnxEmbeddings(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = EmbeddingOptions.FromConfiguration(configuration);
        options.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton<OnnxEmbeddingService>();
        services.AddSingleton<IEmbeddingService>(sp => sp.GetRequiredService<OnnxEmbeddingService>());
        services.AddSingleton<IInferenceService>(sp => sp.GetRequiredService<OnnxEmbeddingService>());
        services.AddHostedService(sp => sp.GetRequiredService<OnnxEmbeddingService>());
        return services;
    }
}
