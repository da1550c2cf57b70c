using Cocoon.Bot.Api;
using Cocoon.Bot.MiniApp;
using Cocoon.Bot.Slashing;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Data;
using Cocoon.Network.Transport;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>One real three-master Redis Cluster for the stores whose steps span several keys.</summary>
public sealed class ClusterFixture : IDisposable
{
    public RedisCluster Cluster { get; } = new();

    public ConnectionMultiplexer Connection { get; }

    public ClusterFixture() => Connection = Cluster.Connect();

    public void Dispose()
    {
        Connection.Dispose();
        Cluster.Dispose();
    }
}

/// <summary>
/// Wallet links and the one-time move of API keys out of Redis on a real three-master Redis Cluster: a link's
/// transaction touches only keys of one slot, and the move (whose earlier keys have no hash tags and so sit in
/// different slots) runs one key per command. Each test takes its own prefix.
/// </summary>
public sealed class ClusterStoresTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    private static RedisKeys Scope() => new("t" + Guid.NewGuid().ToString("N")[..10] + ":");

    [Fact]
    public async Task Wallet_links_claim_switch_and_refuse_on_a_cluster()
    {
        var links = new WalletLinks(fixture.Connection, Scope());
        const string a = "0:aaaa", b = "0:bbbb";

        await links.LinkAsync(1, a, _ct);
        await links.LinkAsync(1, a, _ct); // again: no change, no error
        Assert.Equal(a, await links.GetAsync(1, _ct));
        await Assert.ThrowsAsync<WalletLinkedElsewhereException>(() => links.LinkAsync(2, a, _ct));

        // User 1 switches to b, which frees a for user 2.
        await links.LinkAsync(1, b, _ct);
        await links.LinkAsync(2, a, _ct);
        Assert.Equal(b, await links.GetAsync(1, _ct));
        Assert.Equal(a, await links.GetAsync(2, _ct));
        await Assert.ThrowsAsync<WalletLinkedElsewhereException>(() => links.LinkAsync(1, a, _ct));
        Assert.Null(await links.GetAsync(3, _ct));
    }

    [Fact]
    public async Task Links_under_the_untagged_names_move_to_the_tagged_ones_on_first_use()
    {
        var keys = Scope();
        var (byUser, byWallet) = WalletLinks.LegacyKeys(keys);
        var db = fixture.Connection.GetDatabase();
        // Written as a single server held them (one key per command works on a cluster too).
        await db.HashSetAsync(byUser, 7, "0:7777");
        await db.HashSetAsync(byWallet, "0:7777", 7);
        Assert.NotEqual(fixture.Connection.HashSlot(byUser), fixture.Connection.HashSlot(byWallet));

        var links = new WalletLinks(fixture.Connection, keys);
        Assert.Equal("0:7777", await links.GetAsync(7, _ct));
        await Assert.ThrowsAsync<WalletLinkedElsewhereException>(() => links.LinkAsync(8, "0:7777", _ct));
        Assert.False(await db.KeyExistsAsync(byUser));
        Assert.False(await db.KeyExistsAsync(byWallet));

        // Another replica (or a restart) finds nothing left to move and the same links.
        var again = new WalletLinks(fixture.Connection, keys);
        await again.LinkAsync(7, "0:8888", _ct);
        await again.LinkAsync(8, "0:7777", _ct);
        Assert.Equal("0:7777", await links.GetAsync(8, _ct));
    }

    [Fact]
    public async Task Api_keys_of_the_earlier_redis_layout_move_into_the_database_on_a_cluster()
    {
        using var data = new TempDir("cocoon-apikeys-cluster");
        var keys = Scope();
        var database = new LedgerDatabase(LedgerDatabase.DefaultConnectionString(data.Path));
        var owner = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        const string key = "sk-cocoon-made-before-the-move-on-a-cluster";
        var hash = ApiKeyStore.HashKey(key);
        var db = fixture.Connection.GetDatabase();
        RedisKey hashKey = keys.Prefix + "apikey:hash:" + hash, idKey = keys.Prefix + "apikey:id:old1", ownerKey = keys.Prefix + "apikey:owner:" + owner.Value;
        await db.HashSetAsync(hashKey, [new("id", "old1"), new("owner", owner.Value), new("created", 1_700_000_000_000)]);
        await db.HashSetAsync(idKey, [new("hash", hash), new("owner", owner.Value), new("created", 1_700_000_000_000)]);
        await db.SetAddAsync(ownerKey, "old1");
        Assert.True(new[] { hashKey, idKey, ownerKey }.Select(k => fixture.Connection.HashSlot(k)).Distinct().Count() > 1, "the earlier keys span slots");

        var store = new ApiKeyStore(database, fixture.Connection, keys, TimeProvider.System);
        Assert.Equal(owner, await store.ValidateAsync(key, _ct));
        Assert.Equal("old1", Assert.Single(await store.ListAsync(owner, _ct)).KeyId);
        Assert.False(await db.KeyExistsAsync(hashKey));
        Assert.False(await db.KeyExistsAsync(idKey));
        Assert.False(await db.KeyExistsAsync(ownerKey));

        var again = new ApiKeyStore(database, fixture.Connection, keys, TimeProvider.System);
        Assert.Equal(owner, await again.ValidateAsync(key, _ct));
    }
    private static SlashRecord Slash(string reasonHash, string faultKey, string provider) => new()
    {
        ReasonHash = reasonHash,
        FaultKey = faultKey,
        Fault = "FailedCanary",
        ProviderId = provider,
        ProviderAddress = "0:" + new string('a', 64),
        WorkerId = "w1",
        Amount = 1_000,
        ToUser = 0,
        ToNetwork = 1_000,
        Evidence = "{}",
        CreatedAtMs = 1_700_000_000_000,
    };

    [Fact]
    public async Task Slashes_are_created_once_per_fault_settled_and_listed_on_a_cluster()
    {
        var book = new SlashBook(fixture.Connection, Scope());
        var first = Slash(new string('1', 64), "canary:a", "p1");

        var (stored, created) = await book.CreateAsync(first, _ct);
        Assert.True(created);
        var (again, createdAgain) = await book.CreateAsync(first with { ReasonHash = new string('2', 64) }, _ct);
        Assert.False(createdAgain);
        Assert.Equal(first.ReasonHash, again.ReasonHash);
        Assert.Equal(new[] { first.ReasonHash }, await book.PendingAsync(_ct));

        await book.SaveAsync(stored with { State = SlashStates.Applied, TransactionHash = "tx" }, _ct);
        Assert.Empty(await book.PendingAsync(_ct));
        var listed = Assert.Single(await book.ForProviderAsync("p1", 10, _ct));
        Assert.Equal(SlashStates.Applied, listed.State);
    }

    [Fact]
    public async Task Slashes_under_the_untagged_names_move_to_the_tagged_ones_at_start()
    {
        var keys = Scope();
        var db = fixture.Connection.GetDatabase();
        var pending = Slash(new string('3', 64), "tie-break:r1", "p2");
        // Written as a single server held them, one key per command (the untagged keys sit in different slots).
        await db.HashSetAsync(keys.Prefix + "slashes", pending.ReasonHash, System.Text.Json.JsonSerializer.Serialize(pending));
        await db.HashSetAsync(keys.Prefix + "slashes:faults", pending.FaultKey, pending.ReasonHash);
        await db.SetAddAsync(keys.Prefix + "slashes:pending", pending.ReasonHash);
        await db.ListLeftPushAsync(keys.Prefix + "slashes:provider:p2", pending.ReasonHash);

        var book = new SlashBook(fixture.Connection, keys);
        await book.MoveLegacyAsync(_ct);
        await book.MoveLegacyAsync(_ct); // a second gateway, or a restart: nothing left to move, nothing lost

        Assert.Equal(new[] { pending.ReasonHash }, await book.PendingAsync(_ct));
        Assert.Equal(pending.ReasonHash, Assert.Single(await book.ForProviderAsync("p2", 10, _ct)).ReasonHash);
        var (_, created) = await book.CreateAsync(pending with { ReasonHash = new string('4', 64) }, _ct);
        Assert.False(created); // the fault index moved too: the same fault is not slashed twice
        foreach (var old in new[] { "slashes", "slashes:faults", "slashes:pending", "slashes:provider:p2" })
        {
            Assert.False(await db.KeyExistsAsync(keys.Prefix + old), old);
        }
    }
}
