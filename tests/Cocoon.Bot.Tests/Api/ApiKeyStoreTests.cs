using Cocoon.Bot.Api;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Data;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Time.Testing;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Api;

public sealed class ApiKeyStoreTests : IClassFixture<RedisFixture>, IDisposable
{
    private readonly RedisFixture redis;
    private readonly TempDir _data = new("cocoon-apikeys");
    private readonly Cocoon.Network.Transport.RedisKeys _keys = new("t" + Guid.NewGuid().ToString("N")[..8] + ":");
    private readonly LedgerDatabase Database;
    private readonly FakeTimeProvider _clock = new(DateTimeOffset.UtcNow);
    private readonly ApiKeyStore _store;

    public ApiKeyStoreTests(RedisFixture redis)
    {
        this.redis = redis;
        Database = new LedgerDatabase(LedgerDatabase.DefaultConnectionString(_data.Path));
        _store = new ApiKeyStore(Database, redis.Connection, _keys, _clock);
    }

    public void Dispose() => _data.Dispose();

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
    public async Task The_ledger_database_holds_only_the_hash_of_a_key_and_redis_holds_nothing_of_it()
    {
        var owner = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        var (key, id) = await _store.CreateAsync(owner, CancellationToken.None);
        var secret = key[ApiKeyStore.KeyPrefix.Length..];

        await using (var db = Database.CreateContext())
        {
            var row = await db.ApiKeys.SingleAsync(k => k.KeyId == id);
            Assert.Equal(ApiKeyStore.HashKey(key), row.KeySha256);
            Assert.Equal(owner.Value, row.Owner);
        }

        Assert.DoesNotContain(secret, await File.ReadAllTextAsync(Database.SqliteFile!), StringComparison.Ordinal);
        var server = redis.Connection.GetServer(redis.Connection.GetEndPoints()[0]);
        await foreach (var k in server.KeysAsync(pattern: _keys.Prefix + "*"))
        {
            Assert.DoesNotContain("apikey", k.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Keys_of_the_earlier_redis_layout_move_into_the_database_and_leave_redis()
    {
        // A key made before the move, as the Redis layout held it.
        var owner = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        const string key = "sk-cocoon-made-before-the-move-0123456789";
        var hash = ApiKeyStore.HashKey(key);
        var db = redis.Connection.GetDatabase();
        var created = DateTimeOffset.UtcNow.AddDays(-3).ToUnixTimeMilliseconds();
        await db.HashSetAsync(_keys.Prefix + "apikey:hash:" + hash, [new("id", "old1"), new("owner", owner.Value), new("created", created)]);
        await db.HashSetAsync(_keys.Prefix + "apikey:id:old1", [new("hash", hash), new("owner", owner.Value), new("created", created)]);
        await db.SetAddAsync(_keys.Prefix + "apikey:owner:" + owner.Value, "old1");

        Assert.Equal(owner, await _store.ValidateAsync(key, CancellationToken.None));
        var listed = Assert.Single(await _store.ListAsync(owner, CancellationToken.None));
        Assert.Equal(("old1", created), (listed.KeyId, listed.CreatedAt.ToUnixTimeMilliseconds()));
        Assert.False(await db.KeyExistsAsync(_keys.Prefix + "apikey:hash:" + hash));
        Assert.False(await db.KeyExistsAsync(_keys.Prefix + "apikey:id:old1"));
        Assert.False(await db.KeyExistsAsync(_keys.Prefix + "apikey:owner:" + owner.Value));

        // A second gateway (or a restart) finds nothing left to move and the same key.
        var again = new ApiKeyStore(Database, redis.Connection, _keys, TimeProvider.System);
        Assert.Equal(owner, await again.ValidateAsync(key, CancellationToken.None));
        Assert.True(await again.RevokeAsync("old1", CancellationToken.None));
        // The first store verified the key a moment ago: the other gateway's revocation applies there within the TTL.
        _clock.Advance(ApiKeyStore.VerifiedKeyTtl);
        Assert.Null(await _store.ValidateAsync(key, CancellationToken.None));
    }

    [Fact]
    public async Task A_verified_key_is_remembered_for_the_ttl_and_a_revocation_on_another_gateway_applies_after_it()
    {
        var owner = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        var (key, id) = await _store.CreateAsync(owner, CancellationToken.None);
        Assert.Equal(owner, await _store.ValidateAsync(key, CancellationToken.None));

        // Another gateway on the same database revokes it.
        var other = new ApiKeyStore(Database, redis.Connection, _keys, TimeProvider.System);
        Assert.True(await other.RevokeAsync(id, CancellationToken.None));
        Assert.Null(await other.ValidateAsync(key, CancellationToken.None));

        // This gateway still trusts its verification until the TTL is over (documented), and not a moment longer.
        _clock.Advance(ApiKeyStore.VerifiedKeyTtl - TimeSpan.FromMilliseconds(1));
        Assert.Equal(owner, await _store.ValidateAsync(key, CancellationToken.None));
        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Null(await _store.ValidateAsync(key, CancellationToken.None));

        // An unknown key is never remembered: a key registered on another gateway works here at once.
        var chosen = "sk-cocoon-chosen-" + Guid.NewGuid().ToString("N");
        Assert.Null(await _store.ValidateAsync(chosen, CancellationToken.None));
        await other.ImportAsync(chosen, "chosen-" + Guid.NewGuid().ToString("N"), owner, CancellationToken.None);
        Assert.Equal(owner, await _store.ValidateAsync(chosen, CancellationToken.None));
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
