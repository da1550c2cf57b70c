using System.Collections.Concurrent;
using Cocoon.Network.Transport;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Polly.Registry;
using StackExchange.Redis;

namespace Cocoon.Network.Tests.Transport;

/// <summary>
/// The <c>cocoon-redis</c> pipeline's own telemetry: Polly logs every attempt, and a successful one at Information
/// made two console lines of every Redis call under <c>./cocoon up</c>. A success is Debug now; a failed attempt still
/// warns, on a real redis-server.
/// </summary>
public sealed class RedisResilienceLoggingTests
{
    [Fact]
    public async Task A_successful_call_logs_below_Information_and_a_failed_attempt_still_warns()
    {
        using var redis = new RedisServer();
        using var connection = redis.Connect();
        var lines = new ConcurrentQueue<(LogLevel Level, string Category, string Message)>();
        await using var services = new ServiceCollection()
            .AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new Capture(lines)))
            .AddRedisResilience()
            .BuildServiceProvider();
        var pipeline = services.GetRequiredService<ResiliencePipelineProvider<string>>().GetPipeline(RedisResilience.Pipeline);
        var retries = new List<Exception>();

        for (var i = 0; i < 5; i++)
        {
            await pipeline.ExecuteAsync(async _ => await connection.GetDatabase().PingAsync(), (e, _) => retries.Add(e), CancellationToken.None);
        }

        var polly = lines.Where(l => l.Category.StartsWith("Polly", StringComparison.Ordinal)).ToList();
        Assert.Contains(polly, l => l.Level == LogLevel.Debug && l.Message.Contains("Execution attempt", StringComparison.Ordinal));
        Assert.DoesNotContain(polly, l => l.Level >= LogLevel.Information);
        Assert.Empty(retries);

        // A real failure (the first attempt finds the connection refused) is still a warning, and the retry goes on.
        using var refused = ConnectionMultiplexer.Connect($"127.0.0.1:{FreePort()},abortConnect=false,connectTimeout=200");
        var attempts = 0;
        await pipeline.ExecuteAsync(
            async _ => await (attempts++ == 0 ? refused : connection).GetDatabase().PingAsync(),
            (e, _) => retries.Add(e),
            CancellationToken.None);

        Assert.Equal(2, attempts);
        Assert.IsType<RedisConnectionException>(Assert.Single(retries));
        Assert.Contains(lines, l => l.Category.StartsWith("Polly", StringComparison.Ordinal) && l.Level == LogLevel.Warning);
    }

    private static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }

    private sealed class Capture(ConcurrentQueue<(LogLevel, string, string)> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<(LogLevel, string, string)> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue((logLevel, category, formatter(state, exception)));
        }
    }
}
