using System.Collections.Concurrent;
using Cocoon.Testing;
using Microsoft.Extensions.Logging;

namespace Cocoon.Ledger.Tests.Services;

/// <summary>
/// A round that fails because the service it polls is unreachable: while running it is a warning with its exception;
/// while the host stops (under `up` the chain may already be gone) it is one line without a stack trace.
/// </summary>
public sealed class PeriodicServiceTests
{
    [Fact]
    public async Task An_unreachable_service_while_running_is_logged_with_its_exception()
    {
        var log = new RecordingLogger();
        using var service = new PollsClosedPort(waitForStop: false, log);
        await service.StartAsync(CancellationToken.None);
        // The round's failure is logged before the host stops (the log is the signal, not the round's end).
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (log.Entries.IsEmpty && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await service.StopAsync(CancellationToken.None);

        var entry = Assert.Single(log.Entries);
        Assert.Equal(LogEvents.Services + 1, entry.Id.Id);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.IsType<HttpRequestException>(entry.Exception);
    }

    [Fact]
    public async Task An_unreachable_service_while_stopping_is_one_line_without_a_stack_trace()
    {
        var log = new RecordingLogger();
        using var service = new PollsClosedPort(waitForStop: true, log);
        await service.StartAsync(CancellationToken.None);
        await service.RoundStarted.Task.WaitAsync(TimeSpan.FromMinutes(1));
        await service.StopAsync(CancellationToken.None);
        await service.FirstRoundDone.Task.WaitAsync(TimeSpan.FromMinutes(1));

        var entry = Assert.Single(log.Entries);
        Assert.Equal(LogEvents.Services + 2, entry.Id.Id);
        Assert.Null(entry.Exception);
        Assert.Contains("cut short while stopping", entry.Message, StringComparison.Ordinal);
    }

    /// <summary>Each round connects to a loopback port nobody listens on; optionally only once the host is stopping.</summary>
    private sealed class PollsClosedPort(bool waitForStop, ILogger logger) : PeriodicService(TimeProvider.System, logger)
    {
        private readonly int _port = RedisServer.FreePort();

        public TaskCompletionSource RoundStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource FirstRoundDone { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        protected override TimeSpan Interval => TimeSpan.FromHours(1);

        protected override async Task RunRoundAsync(CancellationToken cancellationToken)
        {
            try
            {
                RoundStarted.TrySetResult();
                if (waitForStop)
                {
                    try
                    {
                        await Task.Delay(Timeout.Infinite, cancellationToken);
                    }
                    catch (OperationCanceledException)
                    {
                        // The host is stopping: now poll, as a round already under way would.
                    }
                }

                using var http = new HttpClient();
                // Not the stopping token: the request fails on the refused connection, as a poll of a stopped chain does.
                await http.GetAsync(new Uri($"http://127.0.0.1:{_port}/"), CancellationToken.None);
            }
            finally
            {
                // The log is read only after StopAsync, which awaits the loop (and so the log call after this round).
                FirstRoundDone.TrySetResult();
            }
        }
    }

    private sealed class RecordingLogger : ILogger
    {
        public ConcurrentQueue<(LogLevel Level, EventId Id, string Message, Exception? Exception)> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue((logLevel, eventId, formatter(state, exception), exception));
    }
}
