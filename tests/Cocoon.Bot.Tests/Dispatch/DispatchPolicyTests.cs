using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>Forged or unacceptable attestations never get a job; every refusal is counted with its reason.</summary>
public sealed class DispatchPolicyTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    public static TheoryData<string> Forgeries => ["bad-signature", "untrusted-platform", "expired", "unknown-measurement", "unknown-model", "registration-mismatch"];

    [Theory]
    [MemberData(nameof(Forgeries))]
    public async Task A_forged_or_unacceptable_attestation_is_refused_at_the_gateway(string forgery)
    {
        var settings = new Dictionary<string, string?>();
        if (forgery == "unknown-measurement")
        {
            settings["Gateway:AcceptAnySimulatedMeasurement"] = "false";
            settings["Gateway:AllowedMeasurements:0"] = new string('e', 64);
        }

        if (forgery == "unknown-model")
        {
            settings["Gateway:Models:0:Name"] = ScriptedWorker.ModelName;
            settings["Gateway:Models:0:Sha256"] = new string('d', 64);
        }

        await using var network = new DispatchNetwork(redis.Server, settings);
        await network.StartAsync(_ct);
        using var otherPlatform = new TempDir("cocoon-platform");
        using var worker = forgery switch
        {
            // The document changed after the worker signed it (here: a cheaper price than attested).
            "bad-signature" => await ScriptedWorker.CreateAsync(network, _ct, forge: b => b with { Document = b.Document with { PriceCoefficient = 1 } }),
            "untrusted-platform" => await ScriptedWorker.CreateAsync(network, _ct, platformDir: otherPlatform.Path),
            "expired" => await ScriptedWorker.CreateAsync(network, _ct, clock: new FixedClock(DateTimeOffset.UtcNow.AddDays(-3)), validity: TimeSpan.FromDays(1)),
            "registration-mismatch" => await ScriptedWorker.CreateAsync(network, _ct, forge: b => b),
            _ => await ScriptedWorker.CreateAsync(network, _ct),
        };
        if (forgery == "registration-mismatch")
        {
            // A valid document replayed under another worker's registry entry (its HPKE key is not that worker's).
            using var thief = await ScriptedWorker.CreateAsync(network, _ct);
            await ReRegisterAsync(network, thief.WorkerId, worker, _ct);
        }
        else
        {
            await worker.RegisterAsync(TimeSpan.FromSeconds(30), _ct);
        }

        await network.Directory.RefreshAsync(_ct);

        Assert.Empty(network.Directory.Eligible);
        Assert.True(network.Refusals.GetValueOrDefault(forgery) >= 1, $"refusal '{forgery}' not counted: {string.Join(", ", network.Refusals)}");
        Assert.Contains(network.Logs, l => l.Contains("refused: " + forgery, StringComparison.Ordinal));
        var payer = await network.FundedPayerAsync(1_000_000, _ct);
        await Assert.ThrowsAsync<ModelUnavailableException>(() => network.AskAsync(DispatchNetwork.Request(payer, "hello", 4, ScriptedWorker.ModelName), _ct));
        Assert.Equal(0, await worker.QueuedJobsAsync());
        Assert.Equal(1_000_000, await network.Ledger.GetBalanceAsync(payer, _ct));
    }

    [Fact]
    public async Task Simulated_workers_need_the_explicit_development_flag_and_the_gateway_says_so_at_start()
    {
        // A platform key alone no longer turns simulated mode on: the gateway refuses to start and names the flag.
        var refused = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:AllowSimulated"] = "false" });
        try
        {
            var e = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => refused.StartAsync(_ct));
            Assert.Contains("Gateway:AllowSimulated", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            // Never started, so not stopped either: only its resources go.
            refused.Gateway.Dispose();
            refused.Data.Dispose();
        }

        // With the flag (as `./cocoon up` and the tests set it) it starts, and its log says simulated mode is on.
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        Assert.Contains(network.Logs, l => l.Contains("Gateway:AllowSimulated is on", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_honest_scripted_worker_passes_the_same_policy()
    {
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        using var worker = await ScriptedWorker.CreateAsync(network, _ct);
        await worker.RegisterAsync(TimeSpan.FromSeconds(30), _ct);
        await network.Directory.RefreshAsync(_ct);
        Assert.Equal(worker.WorkerId, Assert.Single(network.Directory.Eligible).Document.WorkerId);
    }

    [Fact]
    public async Task A_forged_replayed_or_unsigned_heartbeat_is_refused_and_the_workers_next_one_is_believed()
    {
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        using var worker = await ScriptedWorker.CreateAsync(network, _ct);
        await worker.RegisterAsync(TimeSpan.FromSeconds(30), _ct);
        await network.Directory.RefreshAsync(_ct);
        Assert.Single(network.Directory.Eligible);
        var db = network.Connection.GetDatabase();
        var key = network.Keys.Worker(worker.WorkerId);
        var first = await db.HashGetAsync(key, ["load", "load-signature"]);

        async Task RefusedAsync(string reason)
        {
            await network.Directory.RefreshAsync(_ct);
            Assert.Empty(network.Directory.Eligible);
            Assert.True(network.Refusals.GetValueOrDefault(reason) >= 1, $"refusal '{reason}' not counted: {string.Join(", ", network.Refusals)}");
        }

        async Task BelievedAgainAsync()
        {
            await worker.RegisterAsync(TimeSpan.FromSeconds(30), _ct);
            await network.Directory.RefreshAsync(_ct);
            Assert.Single(network.Directory.Eligible);
        }

        // Someone with Redis access rewrites the load (an idle-looking worker draws jobs), keeping the signature.
        var forged = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
            new Cocoon.Engine.Protocol.WorkerLoad(0, 2, 1, 999, DateTimeOffset.UtcNow), Cocoon.Engine.Protocol.WireJsonContext.Default.WorkerLoad);
        await db.HashSetAsync(key, "load", forged);
        await RefusedAsync("forged-heartbeat");
        await BelievedAgainAsync();

        // The first, honestly signed heartbeat written back after a newer one was seen.
        await db.HashSetAsync(key, [new("load", first[0]), new("load-signature", first[1])]);
        await RefusedAsync("replayed-heartbeat");
        await BelievedAgainAsync();

        // A load without a signature.
        await db.HashSetAsync(key, "load-signature", string.Empty);
        await RefusedAsync("unsigned-heartbeat");
        await BelievedAgainAsync();
    }

    [Fact]
    public async Task A_worker_that_stops_heartbeating_leaves_matching_within_its_ttl()
    {
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        using var worker = await ScriptedWorker.CreateAsync(network, _ct);
        await worker.RegisterAsync(TimeSpan.FromMilliseconds(500), _ct);
        await network.WaitForWorkerAsync(worker.WorkerId, _ct);

        var gone = System.Diagnostics.Stopwatch.StartNew();
        while (network.Directory.Eligible.Count > 0)
        {
            Assert.True(gone.Elapsed < TimeSpan.FromSeconds(5), "the silent worker is still matched");
            await Task.Delay(20, _ct);
        }

        var payer = await network.FundedPayerAsync(1_000_000, _ct);
        await Assert.ThrowsAsync<ModelUnavailableException>(() => network.AskAsync(DispatchNetwork.Request(payer, "hello", 4, ScriptedWorker.ModelName), _ct));
    }

    private static async Task ReRegisterAsync(DispatchNetwork network, string entryId, ScriptedWorker documentOwner, CancellationToken ct)
    {
        var registry = (Cocoon.Network.Transport.WorkerRegistry)network.Gateway.Services.GetService(typeof(Cocoon.Network.Transport.WorkerRegistry))!;
        await registry.PublishAsync(new Cocoon.Engine.Protocol.WorkerRegistration
        {
            WorkerId = entryId,
            ModelName = documentOwner.Bundle.Document.ModelName,
            ModelSha256 = documentOwner.Bundle.Document.ModelSha256,
            Attestation = System.Text.Encoding.UTF8.GetBytes(documentOwner.Bundle.ToJson()),
            MaxConcurrency = 2,
            StartedAt = DateTimeOffset.UtcNow,
        }, new Cocoon.Engine.Protocol.WorkerLoad(0, 2, 0, 0, DateTimeOffset.UtcNow), TimeSpan.FromSeconds(30), ct, signer: documentOwner.Identity);
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
