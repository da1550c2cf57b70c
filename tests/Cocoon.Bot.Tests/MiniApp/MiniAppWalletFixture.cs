using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.LocalChain;
using Cocoon.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// The gateway as shipped (Kestrel, loopback, Mini App on) with its TON services on the local chain
/// (Cocoon.Ledger/LocalChain: @ton/sandbox behind toncenter's HTTP API): the network wallet, deposit invoices, the
/// deposit watcher polling every 200 ms, and ton_proof for the page's host. No worker: the wallet flow needs none.
/// </summary>
public sealed class MiniAppWalletFixture : IAsyncLifetime
{
    private GatewayFactory _gateway = null!;

    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-miniapp-wallet");

    public LocalChainProcess Chain { get; private set; } = null!;

    public WebApplicationFactory<Program> Host { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public CapturingLoggerProvider Logs => _gateway.Logs;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var ct = timeout.Token;
        Chain = await LocalChainProcess.StartAsync(new LocalChainOptions { ScriptDirectory = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Ledger", "LocalChain") }, null, ct);
        var settings = new Dictionary<string, string?>(Chain.ConfigurationValues)
        {
            ["Redis:Prefix"] = "w" + Guid.NewGuid().ToString("N")[..10] + ":",
            ["MiniApp:BotToken"] = MiniAppFixture.BotToken,
            ["urls"] = "http://127.0.0.1:0",
            ["Ton:DepositPollInterval"] = "00:00:00.200",
            ["Ton:Proof:AllowedDomains:0"] = "127.0.0.1",
        };
        var tonConfiguration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        _gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-wallet-" + Guid.NewGuid().ToString("N"), settings: settings);
        Host = _gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
        {
            // As MiniAppBrowserFixture: the TON services bound to this chain, and the deposit watcher once.
            if (!services.Any(d => d.ServiceType == typeof(DepositInvoices)))
            {
                services.AddTonChain(tonConfiguration);
            }

            if (!services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(DepositWatcher)))
            {
                services.AddTonBackgroundServices();
            }
        }));
        Host.UseKestrel(0);
        Host.StartServer();
        using (var client = Host.CreateClient())
        {
            BaseAddress = client.BaseAddress!;
        }

        await Host.Services.MigrateChainDatabaseAsync(ct);
    }

    public async Task DisposeAsync()
    {
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
