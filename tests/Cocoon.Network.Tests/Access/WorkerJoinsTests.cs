using Cocoon.Network.Access;
using Cocoon.Network.Tests.Transport;
using Cocoon.Network.Transport;

namespace Cocoon.Network.Tests.Access;

public sealed class WorkerJoinsTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken Ct = new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token;

    [Fact]
    public async Task A_worker_id_is_pinned_to_its_key_and_provider_while_it_lives()
    {
        var (keys, _) = redis.Scope();
        var joins = new WorkerJoins(redis.Connection, keys, TimeProvider.System);
        byte[] keyA = [.. Enumerable.Repeat((byte)1, 32)], keyB = [.. Enumerable.Repeat((byte)2, 32)];
        Assert.True(await joins.PinAsync("w1", "p1", keyA, "simulated", "m", Ct));
        await redis.Connection.GetDatabase().HashSetAsync(keys.Worker("w1"), "registration", "live");

        // While w1's entry lives, another key for the same id is refused, and another provider never gets it.
        Assert.False(await joins.PinAsync("w1", "p1", keyB, "simulated", "m", Ct));
        Assert.False(await joins.PinAsync("w1", "p2", keyB, "simulated", "m", Ct));
        Assert.Equal(Convert.ToHexStringLower(keyA), (await joins.GetAsync("w1", Ct))!.SigningKeyHex);

        // Another provider's refusal does not touch p1's record.
        await joins.RecordRefusalAsync("w1", "p2", "untrusted-platform", "x", Ct);
        var record = (await joins.GetAsync("w1", Ct))!;
        Assert.Equal(("p1", JoinStates.Joined, (string?)null), (record.ProviderId, record.State, record.Reason));

        // Once the worker is gone (restarted with new keys), its own provider may pin the id again.
        await redis.Connection.GetDatabase().KeyDeleteAsync(keys.Worker("w1"));
        Assert.False(await joins.PinAsync("w1", "p2", keyB, "simulated", "m", Ct));
        Assert.True(await joins.PinAsync("w1", "p1", keyB, "simulated", "m", Ct));
        Assert.Equal(["w1"], await joins.ListJoinedAsync(Ct));
        Assert.Single(await joins.ListByProviderAsync("p1", Ct));
        Assert.Empty(await joins.ListByProviderAsync("p2", Ct));

        await joins.RemoveAsync("w1", "p1", Ct);
        Assert.Null(await joins.GetAsync("w1", Ct));
        Assert.Empty(await joins.ListJoinedAsync(Ct));
    }
}
