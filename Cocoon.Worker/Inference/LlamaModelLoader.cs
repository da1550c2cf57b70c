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
        // The file that loads, not the setting: with Worker:Model unset the worker picks one itself (ModelLocator),
        // the same way LoadAsync does.
        LogLoadingStarted(_logger, ModelLocator.Resolve(options.Model, Environment.CurrentDirectory));
        var started = time.GetTimestamp();
        var service = await LlamaInferenceService.LoadAsync(options, loggers, time, new QuarterSteps(_logger), cancellationToken).ConfigureAwait(false);
        holder.Set(service);
        LogLoaded(_logger, time.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>
    /// Logs the load in quarter steps (a few lines per load, not one per tensor), each step once and in order. It runs
    /// synchronously on llama.cpp's loading thread: Progress&lt;T&gt; would post each report to the thread pool, where
    /// the 0% report could be logged after the 100% one.
    /// </summary>
    internal sealed class QuarterSteps(ILogger logger) : IProgress<float>
    {
        private readonly Lock _gate = new();
        private int _lastStep = -1;

        public void Report(float value)
        {
            lock (_gate)
            {
                var step = (int)(Math.Clamp(value, 0f, 1f) * 4);
                if (step > _lastStep)
                {
                    _lastStep = step;
                    LogLoading(logger, value * 100);
                }
            }
        }
    }

    // The holder (a singleton) disposes the service when the host is disposed, after every hosted service stopped.
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = LogEvents.ModelLoader + 1, Level = LogLevel.Information, Message = "Loading the model: {Percent:F0}%")]
    private static partial void LogLoading(ILogger logger, float percent);

    [LoggerMessage(EventId = LogEvents.ModelLoader + 2, Level = LogLevel.Information, Message = "Loading the model {Model}")]
    private static partial void LogLoadingStarted(ILogger logger, string model);

    [LoggerMessage(EventId = LogEvents.ModelLoader + 3, Level = LogLevel.Information, Message = "Model loaded in {Seconds:F1} s")]
    private static partial void LogLoaded(ILogger logger, double seconds);
}
