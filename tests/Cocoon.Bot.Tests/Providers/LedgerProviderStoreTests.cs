using Cocoon.Bot.Providers;
using Cocoon.Bot.Tests.Api;
using Cocoon.Ledger.Data;
using Cocoon.Network.Providers;
using Cocoon.Network.Transport;
using Cocoon.Testing;
using Microsoft.EntityFrameworkCore;

namespace Cocoon.Bot.Tests.Providers;

/// <summary>Provider profiles and token hashes in the ledger database; records of the earlier Redis layout move in and leave Redis.</summary>
public sealed class LedgerProviderStoreTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task Profiles_live_in_the_ledger_database_and_earlier_redis_records_move_there()
    {
        using var data = new TempDir("cocoon-providers");
        var keys = new RedisKeys("pv" + Guid.NewGuid().ToString("N")[..8] + ":");
        var earlier = new RedisProviderStore(redis.Connection, keys);

        // A provider registered before the move, as the Redis layout held it.
        var old = await new ProviderDirectory(earlier, TimeProvider.System).RegisterAsync(new ProviderProfile("old gpu", 42, "EQold", "@old"), _ct);
        var database = new LedgerDatabase(LedgerDatabase.DefaultConnectionString(data.Path));
        var directory = new ProviderDirectory(new LedgerProviderStore(database, earlier), TimeProvider.System);

        var moved = await directory.ResolveTokenAsync(old.WorkerToken, _ct);
        Assert.Equal((old.ProviderId, "EQold", 42L), (moved!.ProviderId, moved.Profile.PayoutAddress, moved.Profile.TelegramUserId!.Value));
        Assert.Empty(await earlier.ReadAllAsync(_ct));
        var db = redis.Connection.GetDatabase();
        Assert.False(await db.KeyExistsAsync(keys.Provider(old.ProviderId)));
        Assert.False(await db.KeyExistsAsync(keys.ProviderToken(ProviderDirectory.HashToken(old.WorkerToken))));

        // New registrations, pauses, price overrides and token rotations go to the database only.
        var fresh = await directory.RegisterAsync(new ProviderProfile("new gpu", 43, "EQnew"), _ct);
        Assert.True(await directory.SetPausedAsync(fresh.ProviderId, true, _ct));
        Assert.True(await directory.SetPriceCoefficientAsync(fresh.ProviderId, 1500, _ct));
        var rotated = await directory.RotateTokenAsync(fresh.ProviderId, _ct);
        Assert.Null(await directory.ResolveTokenAsync(fresh.WorkerToken, _ct));
        var info = await directory.ResolveTokenAsync(rotated!, _ct);
        Assert.Equal((true, (int?)1500), (info!.Paused, info.PriceCoefficient));
        Assert.False(await directory.SetPausedAsync("p-nobody", true, _ct));
        Assert.Equal([old.ProviderId, fresh.ProviderId], (await directory.ListAsync(_ct)).Select(p => p.ProviderId));
        Assert.Equal([fresh.ProviderId], (await directory.ListByOwnerAsync(43, _ct)).Select(p => p.ProviderId));
        Assert.False(await db.KeyExistsAsync(keys.Provider(fresh.ProviderId)));

        await using var context = database.CreateContext();
        var row = await context.Providers.SingleAsync(p => p.ProviderId == fresh.ProviderId, _ct);
        Assert.Equal(ProviderDirectory.HashToken(rotated!), row.TokenSha256);
        Assert.Equal("EQnew", row.PayoutAddress);
    }
}
