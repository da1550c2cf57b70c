using Cocoon.Network.Hosting;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Hosting;

/// <summary>`Cocoon.Worker run`: serve jobs from Redis until Ctrl-C / SIGTERM.</summary>
public static class RunCommand
{
    /// <summary>An embedding model when Embeddings:Model is set (ONNX Runtime), else a chat model (llama.cpp).</summary>
    public static Task<int> RunAsync(string[] args) => RunAsync(args, (services, configuration) =>
    {
        if (configuration["Embeddings:Model"] is { Length: > 0 })
        {
            Embeddings.EmbeddingServiceCollectionExtensions.AddOnnxEmbeddings(services, configuration);
        }
        else
        {
            services.AddLlamaInference(configuration);
        }
    });

    /// <param name="args">Extra configuration as --Key=Value (e.g. --Worker:MaxConcurrency=4).</param>
    /// <param name="addInference">Registers IInferenceService (the llama.cpp service in production).</param>
    public static async Task<int> RunAsync(string[] args, Action<IServiceCollection, IConfiguration> addInference)
    {
        ArgumentNullException.ThrowIfNull(addInference);
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, DisableDefaults = false });
        builder.Configuration.AddCocoonEnvironment();
        builder.Configuration.AddCommandLine(args);
        addInference(builder.Services, builder.Configuration);
        builder.Services.AddWorkerHost(builder.Configuration);
        using var host = builder.Build();
        await host.RunAsync().ConfigureAwait(false);
        return 0;
    }
}
