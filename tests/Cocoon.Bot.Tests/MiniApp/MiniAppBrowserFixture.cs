using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.LocalChain;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// What the browser tests open the Mini App against, with nothing scripted: the gateway as shipped on Kestrel
/// (loopback) serving the built front end, the real dispatcher and SQLite ledger, a redis-server with AOF on, one
/// worker host with llama.cpp on the small model, and the TON services on the local chain (@ton/sandbox behind
/// toncenter's HTTP API) with receipts anchored every second, which the page reads back from that chain itself.
/// Gateway and worker log at Trace into one capture.
/// </summary>
public sealed class MiniAppBrowserFixture : IAsyncLifetime
{
    private ChainGateway _gateway = null!;

    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-miniapp-browser");

    public WebApplicationFactory<Program> Host => _gateway.Host;

    public IHost Worker { get; private set; } = null!;

    public LocalChainProcess Chain => _gateway.Chain;

    public Uri BaseAddress => _gateway.BaseAddress;

    public CapturingLoggerProvider Logs => _gateway.Gateway.Logs;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        var prefix = "m" + Guid.NewGuid().ToString("N")[..10] + ":";
        _gateway = await ChainGateway.StartAsync(Redis, Data.Path, "test", chain => LocalStackSettings.TestGateway(prefix, Data.Path).With(new Dictionary<string, string?>
        {
            ["MiniApp:MaxAnswerTokens"] = "48",
            ["MiniApp:ChainApiUrl"] = chain.BaseUrl.ToString(),
            ["Receipts:AnchorPeriod"] = "00:00:01",
        }), depositWatcher: false, ct);

        var worker = LocalStackSettings.TestWorker(Redis.Endpoint, prefix, Data.Path).With(LocalStackSettings.LlamaChunkPerToken(maxConcurrency: 2));
        worker["Worker:Model"] = SharedFiles.SmallModel;
        Worker = await LocalStack.StartWorkerAsync(worker, Logs, (services, configuration) => services.AddLlamaInference(configuration), ct);
        await LocalStack.WaitHealthyAsync(BaseAddress, ct);
    }

    public async Task DisposeAsync()
    {
        await LocalStack.StopAsync(Worker);
        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
    }
}
