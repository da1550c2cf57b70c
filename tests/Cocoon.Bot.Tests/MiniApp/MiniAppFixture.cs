using System.Net.Http.Headers;
using System.Security.Cryptography;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.Chain;
using Cocoon.Testing;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// The real gateway (the gateway tests' <see cref="GatewayFactory"/>) on loopback with a real Redis and a SQLite
/// ledger in a temp folder, plus the TON services (invoices, ton_proof) the host composition does not register yet.
/// Ton:ApiUrl points at a closed port: nothing here talks to a chain (no watcher or payout sender runs).
/// </summary>
public sealed class MiniAppFixture : IAsyncLifetime
{
    public const string BotToken = "7000001:AAFakeButWellFormedTokenForTests_0123456";
    public const string Domain = "app.example.org";

    private readonly TempDir _data = new("cocoon-miniapp");
    private GatewayFactory _gateway = null!;

    public RedisServer Redis { get; } = new();

    public WebApplicationFactory<Program> Host { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public CapturingLoggerProvider Logs => _gateway.Logs;

    public async Task InitializeAsync()
    {
        var settings = new Dictionary<string, string?>
        {
            ["MiniApp:BotToken"] = BotToken,

            // Kestrel on a free port (UseKestrel(0) below): without a urls setting the gateway would listen on COCOON_HTTP.
            ["urls"] = "http://127.0.0.1:0",
            ["Ton:ApiUrl"] = "http://127.0.0.1:9/",
            ["Ton:WalletSeed"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
            ["Ton:Proof:AllowedDomains:0"] = Domain,
        };
        var tonConfiguration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        _gateway = new GatewayFactory(Redis.Endpoint, _data.Path, "sk-cocoon-test-" + Guid.NewGuid().ToString("N"), new ScriptedDispatcher(), settings);
        Host = _gateway.WithWebHostBuilder(builder => builder.ConfigureTestServices(services => services.AddTonChain(tonConfiguration)));
        Host.UseKestrel(0);
        Host.StartServer();
        using (var client = Host.CreateClient())
        {
            BaseAddress = client.BaseAddress!;
        }

        await Host.Services.MigrateChainDatabaseAsync(CancellationToken.None);
    }

    public HttpClient Client(string? initData)
    {
        var client = new HttpClient { BaseAddress = new Uri(BaseAddress, "/miniapp/api/"), Timeout = TimeSpan.FromSeconds(60) };
        if (initData is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("tma", initData);
        }

        return client;
    }

    public async Task<HttpClient> ClientForAsync(long userId) =>
        Client(await NodeInitDataSigner.SignAsync(BotToken, userId, DateTimeOffset.UtcNow.AddMinutes(-1)));

    public async Task DisposeAsync()
    {
        await Host.DisposeAsync();
        await _gateway.DisposeAsync();
        Redis.Dispose();
        _data.Dispose();
    }
}
