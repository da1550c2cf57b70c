using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.LocalChain;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// What the Mini App fixtures on a chain share: the gateway as shipped on Kestrel (loopback, Mini App on, ton_proof for
/// the page's host) with its TON services bound to a local chain of its own (@ton/sandbox behind toncenter's HTTP
/// API) once, whether or not the host added them, and the chain tables migrated. <c>settings</c> are written over
/// the chain's and these; with <c>depositWatcher</c> the deposit watcher runs too (once).
/// </summary>
internal sealed class ChainGateway : IAsyncDisposable
{
    private ChainGateway(LocalChainProcess chain, GatewayFactory gateway, WebApplicationFactory<Program> host, Uri baseAddress)
    {
        Chain = chain;
        Gateway = gateway;
        Host = host;
        BaseAddress = baseAddress;
    }

    public LocalChainProcess Chain { get; }

    public GatewayFactory Gateway { get; }

    public WebApplicationFactory<Program> Host { get; }

    public Uri BaseAddress { get; }

    public static async Task<ChainGateway> StartAsync(
        RedisServer redis, string dataDir, string name, Func<LocalChainProcess, IDictionary<string, string?>> settings, bool depositWatcher, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(redis);
        ArgumentNullException.ThrowIfNull(settings);
        var chain = await LocalStack.StartChainAsync(ct);
        GatewayFactory? gateway = null;
        WebApplicationFactory<Program>? host = null;
        try
        {
            var all = new Dictionary<string, string?>(chain.ConfigurationValues)
            {
                ["MiniApp:BotToken"] = MiniAppFixture.BotToken,
                ["urls"] = "http://127.0.0.1:0",
                ["Ton:Proof:AllowedDomains:0"] = "127.0.0.1",
            }.With(settings(chain));
            var tonConfiguration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
            gateway = new GatewayFactory(redis.Endpoint, dataDir, $"sk-cocoon-{name}-" + Guid.NewGuid().ToString("N"), settings: all);
            host = gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            {
                if (!services.Any(d => d.ServiceType == typeof(DepositInvoices)))
                {
                    services.AddTonChain(tonConfiguration);
                }

                if (depositWatcher && !services.Any(d => d.ServiceType == typeof(IHostedService) && d.ImplementationType == typeof(DepositWatcher)))
                {
                    services.AddTonBackgroundServices();
                }
            }));
            host.UseKestrel(0);
            host.StartServer();
            Uri baseAddress;
            using (var client = host.CreateClient())
            {
                baseAddress = client.BaseAddress!;
            }

            await host.Services.MigrateChainDatabaseAsync(ct);
            return new ChainGateway(chain, gateway, host, baseAddress);
        }
        catch
        {
            await DisposeAsync(chain, gateway, host);
            throw;
        }
    }

    public ValueTask DisposeAsync() => DisposeAsync(Chain, Gateway, Host);

    private static async ValueTask DisposeAsync(LocalChainProcess chain, GatewayFactory? gateway, WebApplicationFactory<Program>? host)
    {
        if (host is not null)
        {
            await host.DisposeAsync();
        }

        if (gateway is not null)
        {
            await gateway.DisposeAsync();
        }

        await chain.DisposeAsync();
    }
}
