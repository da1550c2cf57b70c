using Cocoon.Bot.Api;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Api;

public sealed class ApiKeyStoreTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly ApiKeyStore _store = new(redis.Connection, new Cocoon.Network.Transport.RedisKeys("t" + Guid.NewGuid().ToString("N")[..8] + ":"), TimeProvider.System);

    [Fact]
    public async Task Created_key_validates_to_its_owner_until_revoked()
    {
        var owner = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        var (key, id) = await _store.CreateAsync(owner, CancellationToken.None);

        Assert.StartsWith(ApiKeyStore.KeyPrefix, key);
        Assert.Equal(owner, await _store.ValidateAsync(key, CancellationToken.None));
        Assert.Equal([id], (await _store.ListAsync(owner, CancellationToken.None)).Select(k => k.KeyId));

        Assert.True(await _store.RevokeAsync(id, CancellationToken.None));
        Assert.Null(await _store.ValidateAsync(key, CancellationToken.None));
        Assert.Empty(await _store.ListAsync(owner, CancellationToken.None));
        Assert.False(await _store.RevokeAsync(id, CancellationToken.None));
    }

    [Fact]
    public async Task Redis_holds_only_the_hash_of_a_key()
    {
        var owner = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        var (key, _) = await _store.CreateAsync(owner, CancellationToken.None);
        var secret = key[ApiKeyStore.KeyPrefix.Length..];

        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        var db = redis.Connection.GetDatabase();
        await foreach (var k in server.KeysAsync(pattern: "*"))
        {
            Assert.DoesNotContain(secret, k.ToString(), StringComparison.Ordinal);
            if (await db.KeyTypeAsync(k) == RedisType.Hash)
            {
                foreach (var entry in await db.HashGetAllAsync(k))
                {
                    Assert.DoesNotContain(secret, entry.Value.ToString(), StringComparison.Ordinal);
                }
            }
        }
    }

    [Fact]
    public async Task Unknown_empty_and_oversized_keys_are_refused()
    {
        Assert.Null(await _store.ValidateAsync("sk-cocoon-nope", CancellationToken.None));
        Assert.Null(await _store.ValidateAsync("", CancellationToken.None));
        Assert.Null(await _store.ValidateAsync(new string('x', 10_000), CancellationToken.None));
    }

    [Fact]
    public async Task Import_is_idempotent_and_a_new_key_under_the_same_id_replaces_the_old()
    {
        var owner = new AccountId("apikey:test-" + Guid.NewGuid().ToString("N"));
        var id = "import-" + Guid.NewGuid().ToString("N");
        await _store.ImportAsync("first-local-key-0123456789", id, owner, CancellationToken.None);
        await _store.ImportAsync("first-local-key-0123456789", id, owner, CancellationToken.None);
        Assert.Equal(owner, await _store.ValidateAsync("first-local-key-0123456789", CancellationToken.None));

        await _store.ImportAsync("second-local-key-0123456789", id, owner, CancellationToken.None);
        Assert.Null(await _store.ValidateAsync("first-local-key-0123456789", CancellationToken.None));
        Assert.Equal(owner, await _store.ValidateAsync("second-local-key-0123456789", CancellationToken.None));
        Assert.Single(await _store.ListAsync(owner, CancellationToken.None));
    }
}

/// <summary>One real redis-server per test class, and one shared connection to it.</summary>
public sealed class RedisFixture : IDisposable
{
    public RedisFixture()
    {
        Server = new RedisServer();
        Connection = Server.Connect();
    }

    public RedisServer Server { get; }

    public ConnectionMultiplexer Connection { get; }

    public void Dispose()
    {
        Connection.Dispose();
        Server.Dispose();
    }
}
