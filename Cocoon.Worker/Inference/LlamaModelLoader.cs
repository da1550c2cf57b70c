using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Worker.Inference;

/// <summary>
/// Loads llama.cpp and the model when the host starts: StartAsync awaits the load (cancelled by the host's start token,
/// which Ctrl-C / SIGTERM trips) and logs progress, then hands the service to the holder. Hosted services start one
/// after another, so those registered after this one (the worker host) start with the model loaded.
/// </summary>
internal sealed partial class LlamaModelLoader(
    LlamaInferenceOptions options,
    LlamaInferenceHolder holder,
    ILoggerFactory loggers,
    TimeProvider time) : IHostedService
{
    private readonly ILogger _logger = loggers.CreateLogger<LlamaModelLoader>();

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        LogLoadingStarted(_logger, options.Model);
        var started = time.GetTimestamp();
        var lastReported = -1;
        var progress = new Progress<float>(p =>
        {
            // Quarter steps: a few lines per load, not one per tensor.
            var step = (int)(p * 4);
            if (step > Interlocked.Exchange(ref lastReported, step))
            {
                LogLoading(_logger, p * 100);
            }
        });
        var service = await LlamaInferenceService.LoadAsync(options, loggers, time, progress, cancellationToken).ConfigureAwait(false);
        holder.Set(service);
        LogLoaded(_logger, time.GetElapsedTime(started).TotalSeconds);
    }

    // The holder (a singleton) disposes the service when the host is disposed, after every hosted service stopped.
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = LogEvents.ModelLoader + 1, Level = LogLevel.Information, Message = "Loading the model: {Percent:F0}%")]
    private static partial void LogLoading(ILogger logger, float percent);

    [LoggerMessage(EventId = LogEvents.ModelLoader + 2, Level = LogLevel.Information, Message = "Loading the model {Model}")]
    private static partial void LogLoadingStarted(ILogger logger, string? model);

    [LoggerMessage(EventId = LogEvents.ModelLoader + 3, Level = LogLevel.Information, Message = "Model loaded in {Seconds:F1} s")]
    private static partial void LogLoaded(ILogger logger, double seconds);
}
