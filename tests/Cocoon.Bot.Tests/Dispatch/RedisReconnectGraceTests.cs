using System.Runtime.CompilerServices;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// A Redis restart long enough for every worker registration to lapse, with a job in flight: the gateway gives the
/// worker a grace window after its own reconnect, the worker registers again at once, and the job ends on the worker
/// that started it, billed once.
/// </summary>
public sealed class RedisReconnectGraceTests
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task A_job_running_across_a_redis_restart_that_lapses_its_workers_registration_completes_on_the_same_worker_billed_once()
    {
        using var aof = new RedisServer(appendOnly: true);
        // The gateway re-reads the registry often, so it sees the lapsed entry as soon as Redis is back (without the
        // grace, that is the moment the attempt would be given up as worker-lost).
        await using var network = new DispatchNetwork(aof, new Dictionary<string, string?> { ["Gateway:RegistryRefresh"] = "00:00:00.050" });
        await network.StartAsync(_ct);
        PausingInference? pausing = null;
        var ttl = TimeSpan.FromSeconds(2);
        var (_, session) = await network.StartWorkerAsync(_ct, new Dictionary<string, string?>
        {
            ["Worker:HeartbeatInterval"] = "00:00:01",
            ["Worker:HeartbeatTtl"] = "00:00:02",
        }, wrap: inner => pausing = new PausingInference(inner));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var (reference, referenceReceipt) = await network.AskAsync(DispatchNetwork.Request(payer, "The cat sat", 40), _ct);

        pausing!.PauseAfterFirstChunk();
        var text = new System.Text.StringBuilder();
        DispatchReceipt? receipt = null;
        var restarted = false;
        await foreach (var e in network.Dispatcher.DispatchAsync(DispatchNetwork.Request(payer, "The cat sat", 40), _ct))
        {
            if (e is DispatchPiece piece)
            {
                text.Append(piece.Text);
                if (!restarted)
                {
                    restarted = true;
                    // The worker holds the job (paused mid-answer). Redis goes away for longer than the registration's
                    // TTL: the entry, persisted in the AOF with its absolute expiry, is gone when Redis loads it again.
                    await pausing.Paused.WaitAsync(_ct);
                    aof.Kill();
                    await Task.Delay(ttl + TimeSpan.FromMilliseconds(500), _ct);
                    aof.Restart();
                    while (!network.Logs.Any(l => l.Contains("Redis is back: workers known before the outage", StringComparison.Ordinal)))
                    {
                        await Task.Delay(20, _ct);
                    }

                    await network.WaitForWorkerAsync(session.WorkerId, _ct);
                    pausing.Resume();
                }
            }
            else if (e is DispatchCompleted done)
            {
                receipt = done.Receipt;
            }
        }

        Assert.True(restarted);
        Assert.NotNull(receipt);
        Assert.Equal(session.WorkerId, receipt.WorkerId);
        Assert.Equal(0, network.Refusals.GetValueOrDefault("worker-lost"));
        Assert.Equal(reference, text.ToString());
        // The worker re-registered on its reconnect, not at a later heartbeat.
        Assert.Contains(network.Logs, l => l.Contains("Redis is back, registered again at once", StringComparison.Ordinal));
        // Billed exactly once for each of the two answers.
        Assert.Equal(1_000_000_000 - referenceReceipt.TotalCostNanotons - receipt.TotalCostNanotons, await network.Ledger.GetBalanceAsync(payer, _ct));
    }

    /// <summary>The real service, which (when armed) stops after its first chunk until the test resumes it.</summary>
    private sealed class PausingInference(IInferenceService inner) : IInferenceService
    {
        private readonly TaskCompletionSource _resume = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _paused = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _armed;

        public ModelInfo Model => inner.Model;

        public int MaxConcurrency => inner.MaxConcurrency;

        public Task Paused => _paused.Task;

        public void PauseAfterFirstChunk() => _armed = true;

        public void Resume() => _resume.TrySetResult();

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            var armed = _armed;
            var first = true;
            await foreach (var chunk in inner.GenerateAsync(request, cancellationToken).ConfigureAwait(false))
            {
                yield return chunk;
                if (armed && first)
                {
                    first = false;
                    _paused.TrySetResult();
                    await _resume.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }
}
