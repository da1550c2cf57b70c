using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Inference;

public static partial class LlamaInferenceServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="IInferenceService"/> backed by llama.cpp (a singleton the host disposes). The settings are
    /// validated now and the model is loaded when the host starts, so a bad setting or model stops start-up.
    /// </summary>
    public static IServiceCollection AddLlamaInference(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = LlamaInferenceOptions.FromConfiguration(configuration);
        options.Validate();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(options);
        services.AddSingleton(sp =>
        {
            var loggerFactory = sp.GetRequiredService<ILoggerFactory>();
            var logger = loggerFactory.CreateLogger<LlamaInferenceService>();
            var lastReported = -1;
            var progress = new Progress<float>(p =>
            {
                var step = (int)(p * 4);
                if (step > Interlocked.Exchange(ref lastReported, step))
                {
                    LogLoading(logger, p * 100);
                }
            });
            var stopping = sp.GetService<IHostApplicationLifetime>()?.ApplicationStopping ?? CancellationToken.None;
            return LlamaInferenceService.LoadAsync(options, loggerFactory, sp.GetRequiredService<TimeProvider>(), progress, stopping)
                .GetAwaiter().GetResult();
        });
        services.AddSingleton<IInferenceService>(sp => sp.GetRequiredService<LlamaInferenceService>());
        services.AddHostedService<LlamaStartup>();
        return services;
    }

    [LoggerMessage(EventId = 120, Level = LogLevel.Information, Message = "Loading the model: {Percent:F0}%")]
    private static partial void LogLoading(ILogger logger, float percent);

    /// <summary>Loads the model at start-up instead of on the first request.</summary>
    private sealed class LlamaStartup(IServiceProvider services) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) =>
            Task.Run(() => services.GetRequiredService<LlamaInferenceService>(), cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
