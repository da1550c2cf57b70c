using System.Net;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.MiniApp;
using Cocoon.Testing;
using Cocoon.Worker.Hosting;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        Gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-stop-" + Guid.NewGuid().ToString("N"), settings: new Dictionary<string, string?>
        {
            ["Redis:Prefix"] = Prefix,
            ["Gateway:AllowSimulated"] = "true",
            ["Gateway:TrustedSimulatedPlatformKeys:0"] = Convert.ToHexStringLower(Cocoon.Worker.Attestation.SimulatedTeeProvider.ReadPlatformPublicKey(Path.Combine(Data.Path, "tee"))),
            ["Gateway:AcceptAnySimulatedMeasurement"] = "true",
            ["Gateway:AllowLocalProvider"] = "true",
            ["Gateway:RegistryRefresh"] = "00:00:00.100",
            ["Gateway:ResultPoll"] = "00:00:00.050",
            ["MiniApp:BotToken"] = MiniAppFixture.BotToken,
        });
        Gateway.Start();

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Endpoint"] = Redis.Endpoint,
            ["Redis:Prefix"] = Prefix,
            ["Cocoon:DataDir"] = Data.Path,
            ["Worker:HeartbeatInterval"] = "00:00:00.200",
            ["Worker:HeartbeatTtl"] = "00:00:01",
            ["Worker:JobPoll"] = "00:00:00.050",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs);
        builder.Services.AddSingleton<IInferenceService>(Inference);
        builder.Services.AddWorkerHost(builder.Configuration);
        Worker = builder.Build();
        await Worker.StartAsync(ct);

        using var client = new HttpClient { BaseAddress = Gateway.BaseAddress };
        while (true)
        {
            using var health = await client.GetAsync("healthz", ct);
            if (health.StatusCode == HttpStatusCode.OK)
            {
                break;
            }

            await Task.Delay(100, ct);
        }
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
        if (Worker is not null)
        {
            await Worker.StopAsync(CancellationToken.None);
            Worker.Dispose();
        }

        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
    }
}
