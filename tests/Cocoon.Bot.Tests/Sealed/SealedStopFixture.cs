using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.MiniApp;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Bot.Tests.Sealed;

/// <summary>
/// The real gateway (Kestrel, loopback, Mini App on), a redis-server with AOF on and one real worker host whose
/// inference is <see cref="EndlessInference"/>: every answer streams a few words and then runs until it is cancelled,
/// so the stop tests (Node client and browser) stop a job that is certainly still running. Everything logs at Trace.
/// </summary>
public sealed class SealedStopFixture : IAsyncLifetime
{
    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-sealed-stop");

    public GatewayFactory Gateway { get; private set; } = null!;

    public IHost Worker { get; private set; } = null!;

    public EndlessInference Inference { get; } = new();

    public CapturingLoggerProvider Logs => Gateway.Logs;

    public string Prefix { get; } = "s" + Guid.NewGuid().ToString("N")[..10] + ":";

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = timeout.Token;
        Gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-stop-" + Guid.NewGuid().ToString("N"), settings: LocalStackSettings.TestGateway(Prefix, Data.Path).With(new Dictionary<string, string?>
        {
            ["MiniApp:BotToken"] = MiniAppFixture.BotToken,
        }));
        Gateway.Start();

        Worker = await LocalStack.StartWorkerAsync(
            LocalStackSettings.TestWorker(Redis.Endpoint, Prefix, Data.Path), Logs, (services, _) => services.AddSingleton<IInferenceService>(Inference), ct);
        await LocalStack.WaitHealthyAsync(Gateway.BaseAddress, ct);
    }

    /// <summary>Waits (within the caller's token) until a log line satisfies the predicate.</summary>
    public async Task<string> LogLineAsync(Func<string, bool> predicate, CancellationToken cancellationToken)
    {
        while (true)
        {
            if (Logs.Lines.FirstOrDefault(predicate) is { } line)
            {
                return line;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    public async Task DisposeAsync()
    {
        await LocalStack.StopAsync(Worker);

        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
    }
}
