using System.Net;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>
/// The whole path with nothing scripted: the gateway as shipped (Program.cs on Kestrel, loopback), the real
/// dispatcher and ledger (SQLite under the data folder), a real redis-server with AOF on, and one worker host with
/// llama.cpp on the small model. Gateway and worker log into one capturing provider at Trace level.
/// </summary>
public sealed class FullStackFixture : IAsyncLifetime
{
    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-full");

    public string Prefix { get; } = "f" + Guid.NewGuid().ToString("N")[..10] + ":";

    public GatewayFactory Gateway { get; private set; } = null!;

    public IHost Worker { get; private set; } = null!;

    public CapturingLoggerProvider Logs => Gateway.Logs;

    /// <summary>What /healthz said before the worker registered.</summary>
    public (HttpStatusCode Status, string Body) HealthBeforeWorker { get; private set; }

    public string ModelName { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = timeout.Token;
        Gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-full-" + Guid.NewGuid().ToString("N"), settings: LocalStackSettings.TestGateway(Prefix, Data.Path).With(new Dictionary<string, string?>
        {
            ["MiniApp:BotToken"] = MiniApp.MiniAppFixture.BotToken,
        }));
        Gateway.Start();

        using (var anonymous = new HttpClient { BaseAddress = Gateway.BaseAddress })
        using (var response = await anonymous.GetAsync("healthz", ct))
        {
            HealthBeforeWorker = (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }

        var worker = LocalStackSettings.TestWorker(Redis.Endpoint, Prefix, Data.Path).With(LocalStackSettings.LlamaChunkPerToken(maxConcurrency: 4));
        worker["Worker:Model"] = SharedFiles.SmallModel;
        Worker = await LocalStack.StartWorkerAsync(worker, Logs, (services, configuration) => services.AddLlamaInference(configuration), ct);

        using var doc = System.Text.Json.JsonDocument.Parse(await LocalStack.WaitHealthyAsync(Gateway.BaseAddress, ct));
        ModelName = doc.RootElement.GetProperty("models")[0].GetString()!;
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
