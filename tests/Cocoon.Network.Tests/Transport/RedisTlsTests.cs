using Cocoon.Network.Access;
using Cocoon.Network.Transport;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Network.Tests.Transport;

/// <summary>A real redis-server with ACLs on and a TLS port, its CA and certificate made for this run.</summary>
public sealed class TlsRedisFixture : IDisposable
{
    public RedisServer Server { get; } = new(appendOnly: false, password: "admin-" + Guid.NewGuid().ToString("N"), tls: true);

    public TempDir Other { get; } = new("cocoon-other-ca");

    public void Dispose()
    {
        Server.Dispose();
        Other.Dispose();
    }
}

/// <summary>
/// The Redis client's TLS as the gateway and a joined worker configure it: the server's certificate must chain to the
/// pinned CA; a server whose certificate another CA signed, or the system's roots alone, is refused.
/// </summary>
public sealed class RedisTlsTests(TlsRedisFixture fixture) : IClassFixture<TlsRedisFixture>
{
    private readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static ConfigurationOptions Strict(RedisOptions options)
    {
        var config = RedisConnection.Configure(options);
        config.AbortOnConnectFail = true;
        config.ConnectRetry = 1;
        config.ConnectTimeout = 5000;
        return config;
    }

    [Fact]
    public async Task A_worker_user_connects_over_tls_trusting_the_pinned_ca_and_uses_its_own_stream()
    {
        var server = fixture.Server;
        var keys = new RedisKeys("tls" + Guid.NewGuid().ToString("N")[..10] + ":");
        using var admin = await ConnectionMultiplexer.ConnectAsync(Strict(new RedisOptions
        {
            Endpoint = $"{server.TlsEndpoint},password={server.Password}",
            TlsCaFile = server.Certificates!.CaFile,
        }));
        Assert.True(admin.IsConnected);
        var credentials = await new WorkerAccess(admin, keys).GrantAsync("wt", Ct);

        using var worker = await ConnectionMultiplexer.ConnectAsync(Strict(new RedisOptions
        {
            Endpoint = $"{server.TlsEndpoint},user={credentials.User},password={credentials.Password},tiebreaker=,configChannel=",
            TlsCaFile = server.Certificates.CaFile,
        }));
        var id = await worker.GetDatabase().StreamAddAsync(keys.Jobs("wt"), "f", "v");
        Assert.False(id.IsNull);
        await Assert.ThrowsAsync<RedisServerException>(() => worker.GetDatabase().StreamAddAsync(keys.Jobs("other"), "f", "v"));
    }

    [Fact]
    public async Task A_server_whose_certificate_another_ca_signed_is_refused()
    {
        var other = TestCertificates.Create(fixture.Other.Path, "other");
        var server = fixture.Server;
        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(Strict(new RedisOptions
        {
            Endpoint = $"{server.TlsEndpoint},password={server.Password}",
            TlsCaFile = other.CaFile,
        })));
    }

    [Fact]
    public async Task Rediss_without_a_pinned_ca_trusts_only_the_system_roots_and_refuses_the_private_ca()
    {
        var server = fixture.Server;
        await Assert.ThrowsAsync<RedisConnectionException>(() => ConnectionMultiplexer.ConnectAsync(Strict(new RedisOptions
        {
            Endpoint = $"{server.TlsEndpoint},password={server.Password}",
        })));
    }

    [Fact]
    public void The_scheme_decides_tls_and_is_stripped()
    {
        Assert.Equal(("h:1", true), RedisConnection.StripScheme("rediss://h:1"));
        Assert.Equal(("h:1", false), RedisConnection.StripScheme("redis://h:1"));
        Assert.Equal(("h:1", false), RedisConnection.StripScheme("h:1"));
        Assert.True(RedisConnection.Configure(new RedisOptions { Endpoint = "rediss://h:1" }).Ssl);
        Assert.False(RedisConnection.Configure(new RedisOptions { Endpoint = "h:1" }).Ssl);
    }
}
