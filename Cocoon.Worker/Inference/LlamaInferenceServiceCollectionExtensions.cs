using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Cocoon.Worker.Inference;

public static class LlamaInferenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IInferenceService"/> backed by llama.cpp: the settings are validated now, the model loads
    /// in a hosted service when the host starts (a bad model stops start-up), and consumers get a
    /// <see cref="LlamaInferenceHolder"/> that serves once it has. Call it before registering the hosted services
    /// that use the model (AddWorkerHost), so they start after the load.
    /// </summary>
    public static IServiceCollection AddLlamaInference(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = LlamaInferenceOptions.FromConfiguration(configuration);
        options.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton<LlamaInferenceHolder>();
        services.AddSingleton<IInferenceService>(sp => sp.GetRequiredService<LlamaInferenceHolder>());
        services.AddHostedService<LlamaModelLoader>();
        return services;
    }
}
