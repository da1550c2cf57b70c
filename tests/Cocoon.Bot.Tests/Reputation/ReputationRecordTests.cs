using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Api;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Reputation;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// The reputation compare-and-set script on a real redis-server: a gateway starts from the value it last wrote, so when
/// another gateway (or a join's seeding, or a deletion) changed the record since, its guess is wrong and it must retry
/// from what is stored, losing nothing. Worker ids without an owner are not looked up on every outcome, and a join seen
/// by another gateway still counts once Gateway:RegistryRefresh has passed.
/// </summary>
public sealed class ReputationRecordTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private static readonly JobOutcome Completed = new(JobResult.Completed, SlaClass.BestEffort);
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    private static RedisKeys Scope() => new("rr" + Guid.NewGuid().ToString("N")[..10] + ":");

    [Fact]
    public async Task A_stale_last_written_value_is_retried_from_the_stored_record_and_nothing_is_lost()
    {
        var keys = Scope();
        var options = Options.Create(new DispatchOptions());
        using var a = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance);
        using var b = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance);

        await a.RecordAsync("w", Completed, _ct);       // a remembers what it wrote (1 job)
        for (var i = 0; i < 5; i++)
        {
            await b.RecordAsync("w", Completed, _ct);   // b moves the record on to 6 jobs: a's memory is stale
        }

        var next = await a.RecordAsync("w", Completed, _ct);
        Assert.Equal(7, next.Jobs);

        // The record removed behind a's back (its memory says 7 jobs): a writes to a missing field, from new.
        var db = fixture.Connection.GetDatabase();
        await db.HashDeleteAsync(keys.Prefix + "reputation", "w");
        Assert.Equal(1, (await a.RecordAsync("w", Completed, _ct)).Jobs);

        // And a field that appeared behind its back (a join seeding it, HSETNX) is not overwritten blindly either.
        await db.HashSetAsync(keys.Prefix + "reputation", "fresh", (ReputationState.New with { Jobs = 40 }).ToJson());
        Assert.Equal(41, (await b.RecordAsync("fresh", Completed, _ct)).Jobs);
        Assert.Equal(42, (await a.RecordAsync("fresh", Completed, _ct)).Jobs);
        Assert.Equal(42, ReputationState.FromJson((await db.HashGetAsync(keys.Prefix + "reputation", "fresh")).ToString()).Jobs);
    }

    [Fact]
    public async Task An_ownerless_worker_follows_its_provider_once_another_gateway_binds_it_and_the_refresh_passed()
    {
        var keys = Scope();
        var options = Options.Create(new DispatchOptions { RegistryRefresh = TimeSpan.FromMilliseconds(50) });
        var providersA = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        var providersB = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        using var a = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providersA);

        await a.RecordAsync("late", Completed, _ct);    // no owner yet: nothing follows, and a remembers that
        await providersB.BindAsync("late", "p-late", null, _ct);
        await Task.Delay(TimeSpan.FromMilliseconds(200), _ct);
        await a.RecordAsync("late", Completed, _ct);

        var provider = await providersA.ReadAsync(ProviderReputation.ProviderField("p-late"), _ct);
        Assert.Equal(1, provider.Jobs);

        // Bound on this gateway: followed at once.
        await providersA.BindAsync("own", "p-own", null, _ct);
        await a.RecordAsync("own", Completed, _ct);
        Assert.Equal(1, (await providersA.ReadAsync(ProviderReputation.ProviderField("p-own"), _ct)).Jobs);
    }
}

/// <summary>The same records on a real three-master Redis Cluster: each script touches one key (a record's hash).</summary>
public sealed class ReputationClusterTests(ClusterFixture fixture) : IClassFixture<ClusterFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task Outcomes_from_two_gateways_are_all_recorded_on_a_cluster()
    {
        var keys = new RedisKeys("rc" + Guid.NewGuid().ToString("N")[..10] + ":");
        var options = Options.Create(new DispatchOptions());
        var providersA = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        var providersB = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        using var a = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providersA);
        using var b = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providersB);
        await providersA.BindAsync("cw", "p-cluster", new string('f', 64), _ct);
        var completed = new JobOutcome(JobResult.Completed, SlaClass.BestEffort);

        await Task.WhenAll(Enumerable.Range(0, 64).Select(i => (i % 2 == 0 ? a : b).RecordAsync("cw", completed, _ct)));

        Assert.Equal(64, (await a.ReadAsync("cw", _ct)).Jobs);
        Assert.Equal(64, (await providersB.ReadAsync(ProviderReputation.ProviderField("p-cluster"), _ct)).Jobs);
        Assert.Equal(64, (await providersB.ReadAsync(ProviderReputation.KeyField(new string('f', 64)), _ct)).Jobs);
    }
}
