using System.Net;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.LocalChain;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
    private GatewayFactory _gateway = null!;

    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-miniapp-browser");

    public WebApplicationFactory<Program> Host { get; private set; } = null!;

    public IHost Worker { get; private set; } = null!;

    public LocalChainProcess Chain { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public CapturingLoggerProvider Logs => _gateway.Logs;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        var prefix = "m" + Guid.NewGuid().ToString("N")[..10] + ":";
        Chain = await LocalChainProcess.StartAsync(new LocalChainOptions { ScriptDirectory = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Ledger", "LocalChain") }, null, ct);
        var settings = LocalStackSettings.TestGateway(prefix, Data.Path).With(new Dictionary<string, string?>(Chain.ConfigurationValues)
        {
            ["MiniApp:BotToken"] = MiniAppFixture.BotToken,
            ["urls"] = "http://127.0.0.1:0",
            ["MiniApp:MaxAnswerTokens"] = "48",
            ["MiniApp:ChainApiUrl"] = Chain.BaseUrl.ToString(),
            ["Receipts:AnchorPeriod"] = "00:00:01",
            ["Ton:Proof:AllowedDomains:0"] = "127.0.0.1",
        });
        var tonConfiguration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        _gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-test-" + Guid.NewGuid().ToString("N"), settings: settings);
        Host = _gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
        {
            // As MiniAppWalletFixture: the TON services bound to this chain once, whether or not the host added them.
            if (!services.Any(d => d.ServiceType == typeof(Cocoon.Ledger.Deposits.DepositInvoices)))
            {
                services.AddTonChain(tonConfiguration);
            }
        }));
        Host.UseKestrel(0);
        Host.StartServer();
        using (var client = Host.CreateClient())
        {
            BaseAddress = client.BaseAddress!;
        }

        await Host.Services.MigrateChainDatabaseAsync(ct);

        var worker = LocalStackSettings.TestWorker(Redis.Endpoint, prefix, Data.Path).With(LocalStackSettings.LlamaChunkPerToken(maxConcurrency: 2));
        worker["Worker:Model"] = SharedFiles.SmallModel;
        Worker = await LocalStack.StartWorkerAsync(worker, Logs, (services, configuration) => services.AddLlamaInference(configuration), ct);
        await LocalStack.WaitHealthyAsync(BaseAddress, ct);
    }

    public async Task DisposeAsync()
    {
        await LocalStack.StopAsync(Worker);

        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        if (_gateway is not null)
        {
            await _gateway.DisposeAsync();
        }

        if (Chain is not null)
        {
            await Chain.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
    }
}
