using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Api;
using Cocoon.Engine.Reputation;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// Penalties follow the provider and its provider key, not the worker id, on a real redis-server: a penalised
/// provider's new worker id starts from its provider's record; so does a worker certified by the same provider key
/// under another provider registration; a clean provider's new worker starts neutral; an existing worker keeps its own.
/// </summary>
public sealed class ProviderReputationTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    [Fact]
    public async Task A_penalised_provider_that_rejoins_under_a_new_worker_id_or_provider_with_the_same_key_does_not_start_neutral()
    {
        var keys = new RedisKeys("rep" + Guid.NewGuid().ToString("N")[..10] + ":");
        var options = Options.Create(new DispatchOptions());
        var providers = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        using var book = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providers);
        var neutral = book.Model.Score(ReputationState.New).Value;
        var floor = options.Value.ReputationFloor;
        var cheaterKey = new string('c', 64);

        // The cheater's first worker fails canaries and spot checks until it is far below the floor.
        Assert.Same(ReputationState.New, await providers.BindAsync("cheat-1", "p-cheat", cheaterKey, _ct));
        for (var i = 0; i < 6; i++)
        {
            await book.RecordAsync("cheat-1", new IntegrityVerdict(IntegrityKind.Canary, Passed: false), _ct);
            await book.RecordAsync("cheat-1", new IntegrityVerdict(IntegrityKind.SpotCheck, Passed: false), _ct);
        }

        var cheater = await book.ReadAsync("cheat-1", _ct);
        Assert.True(cheater.Value < floor, $"cheater {cheater.Value}");
        Assert.Equal(cheater.Value, (await providers.ReadAsync(ProviderReputation.ProviderField("p-cheat"), _ct)).Value, 9);
        Assert.Equal(cheater.Value, (await providers.ReadAsync(ProviderReputation.KeyField(cheaterKey), _ct)).Value, 9);

        // A new worker id of the same provider starts from the provider's record, below the floor.
        await providers.BindAsync("cheat-2", "p-cheat", cheaterKey, _ct);
        var rejoined = await book.ReadAsync("cheat-2", _ct);
        Assert.True(rejoined.Value < floor, $"rejoined {rejoined.Value}");
        Assert.Equal(cheater.Jobs, rejoined.Jobs);

        // A new provider registration, but its workers certified by the same provider key: the key's record follows.
        await providers.BindAsync("cheat-3", "p-cheat-again", cheaterKey.ToUpperInvariant(), _ct);
        Assert.True((await book.ReadAsync("cheat-3", _ct)).Value < floor);

        // Without the key (a new provider and a new key) nothing follows: that is where this stops (see the report).
        await providers.BindAsync("cheat-4", "p-cheat-third", new string('d', 64), _ct);
        Assert.Equal(neutral, (await book.ReadAsync("cheat-4", _ct)).Value, 9);

        // A clean provider's new worker starts neutral even after its first worker earned a good record.
        await providers.BindAsync("honest-1", "p-honest", new string('e', 64), _ct);
        for (var i = 0; i < 5; i++)
        {
            await book.RecordAsync("honest-1", new IntegrityVerdict(IntegrityKind.Canary, Passed: true), _ct);
        }

        await providers.BindAsync("honest-2", "p-honest", new string('e', 64), _ct);
        Assert.Equal(neutral, (await book.ReadAsync("honest-2", _ct)).Value, 9);

        // A worker that re-joins under its own id keeps its own record (it is not overwritten by the provider's).
        await book.RecordAsync("cheat-2", new IntegrityVerdict(IntegrityKind.Canary, Passed: true), _ct);
        var own = await book.ReadAsync("cheat-2", _ct);
        await providers.BindAsync("cheat-2", "p-cheat", cheaterKey, _ct);
        Assert.Equal(own.Value, (await book.ReadAsync("cheat-2", _ct)).Value, 9);
    }
    [Fact]
    public async Task Outcomes_arriving_together_at_two_gateways_are_all_recorded_for_the_worker_and_its_provider()
    {
        // Two gateways (two books on one Redis), 64 outcomes each at once for one worker: this gateway's updates to a
        // record are folded into one compare-and-set, the two gateways still meet at it, and none is lost.
        var keys = new RedisKeys("rep" + Guid.NewGuid().ToString("N")[..10] + ":");
        var options = Options.Create(new DispatchOptions());
        var providersA = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        var providersB = new ProviderReputation(fixture.Connection, keys, options, NullLogger<ProviderReputation>.Instance);
        using var a = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providersA);
        using var b = new ReputationBook(fixture.Connection, keys, options, TimeProvider.System, NullLogger<ReputationBook>.Instance, providersB);
        await providersA.BindAsync("busy", "p-busy", null, _ct);
        var completed = new JobOutcome(JobResult.Completed, Cocoon.Engine.Matching.SlaClass.BestEffort);

        await Task.WhenAll(Enumerable.Range(0, 128).Select(i => (i % 2 == 0 ? a : b).RecordAsync("busy", completed, _ct)));

        await a.ReadAsync("busy", _ct);
        Assert.Equal(128, a.State("busy").Jobs);
        var provider = ReputationState.FromJson((await fixture.Connection.GetDatabase().HashGetAsync(keys.Prefix + "reputation-providers", ProviderReputation.ProviderField("p-busy"))).ToString());
        Assert.Equal(128, provider.Jobs);
    }
}
