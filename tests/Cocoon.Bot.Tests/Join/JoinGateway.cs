using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.Telegram;
using Cocoon.Testing;
using Cocoon.Worker.Attestation;

namespace Cocoon.Bot.Tests.Join;

/// <summary>
/// The join tests' start-up: a redis-server of their own with ACLs on (only an admin password; workers get their own
/// users from the join), and the real gateway on a port chosen first so that its join URL can be a setting (the bot
/// prints it in the instruction), trusting the simulated platforms given, with the test pacing of registry and results.
/// <paramref name="settings"/> are written over these. Over TLS the gateway too connects with rediss and the CA.
/// </summary>
internal sealed class JoinGateway : IAsyncDisposable
{
    private readonly TempDir _data;

    private JoinGateway(RedisServer redis, TempDir data, GatewayFactory gateway, string joinUrl)
    {
        Redis = redis;
        _data = data;
        Gateway = gateway;
        JoinUrl = joinUrl;
    }

    public RedisServer Redis { get; }

    public GatewayFactory Gateway { get; }

    public IServiceProvider Services => Gateway.Services;

    /// <summary>http://127.0.0.1:PORT/v1/network/join on the gateway's port.</summary>
    public string JoinUrl { get; }

    public static JoinGateway Start(string name, IReadOnlyList<string> trustedPlatforms, IDictionary<string, string?>? settings = null, bool tls = false)
    {
        ArgumentNullException.ThrowIfNull(trustedPlatforms);
        var redis = new RedisServer(appendOnly: false, password: "admin-" + Guid.NewGuid().ToString("N"), tls: tls);
        var data = new TempDir($"cocoon-{name}-gw");
        var port = RedisServer.FreePort();
        var joinUrl = $"http://127.0.0.1:{port}/v1/network/join";
        var all = new Dictionary<string, string?>
        {
            ["Redis:Prefix"] = name + Guid.NewGuid().ToString("N")[..10] + ":",
            ["Gateway:AllowSimulated"] = "true",
            ["Gateway:AcceptAnySimulatedMeasurement"] = "true",
            ["Gateway:RegistryRefresh"] = "00:00:00.100",
            ["Gateway:ResultPoll"] = "00:00:00.050",
            ["Gateway:Join:Url"] = joinUrl,
        };
        for (var i = 0; i < trustedPlatforms.Count; i++)
        {
            all[$"Gateway:TrustedSimulatedPlatformKeys:{i}"] = trustedPlatforms[i];
        }

        if (tls)
        {
            all["Redis:TlsCaFile"] = redis.Certificates!.CaFile;
        }

        var endpoint = tls ? $"{redis.TlsEndpoint},password={redis.Password}" : redis.AdminEndpoint;
        var gateway = new GatewayFactory(endpoint, data.Path, $"sk-cocoon-{name}-" + Guid.NewGuid().ToString("N"), settings: all.With(settings));
        try
        {
            gateway.Start(port);
            return new JoinGateway(redis, data, gateway, joinUrl);
        }
        catch
        {
            gateway.Dispose();
            data.Dispose();
            redis.Dispose();
            throw;
        }
    }

    /// <summary>The simulated platform key (hex) that a worker with data folder <paramref name="dataDir"/> signs with (created if absent).</summary>
    public static string PlatformOf(string dataDir) => Convert.ToHexStringLower(SimulatedTeeProvider.ReadPlatformPublicKey(Path.Combine(dataDir, "tee")));

    /// <summary>The bot on <paramref name="api"/>, for the tests that walk the provider's chat.</summary>
    public static Dictionary<string, string?> Bot(FakeBotApi api) => new()
    {
        ["Telegram:BotToken"] = FakeBotApi.Token,
        ["Telegram:ApiBaseUrl"] = api.BaseUrl,
        ["Telegram:RedisPrefix"] = BotHarness.NewPrefix(),
        ["Telegram:HostKey"] = BotHarness.NewHostKey(),
        ["Telegram:PollTimeoutSeconds"] = "1",
    };

    public async ValueTask DisposeAsync()
    {
        await Gateway.DisposeAsync();
        _data.Dispose();
        await Redis.DisposeAsync();
    }
}
