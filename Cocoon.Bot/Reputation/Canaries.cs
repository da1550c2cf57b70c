using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.Reputation;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Reputation;

/// <summary>What a canary showed: passed, failed (wrong, truncated or late answer), or nothing (the worker was busy, the job never ran).</summary>
public enum CanaryResult
{
    Passed,
    Failed,
    NoVerdict,
}

/// <summary>
/// Blind canaries: the gateway sends a bank prompt with a known temperature-0 answer to one worker as an ordinary
/// job (the same envelope, sealing, lease and attempt path as a user's, a request id drawn like the API's, a random
/// seed) and compares the SHA-256 of the answer with the bank's. A different answer (another model, a truncated or
/// replayed one) or no answer before the deadline is an integrity failure; a matching one a pass. Canaries are not
/// billed to anyone: the worker's provider is paid for the tokens from the network fee account, as for a replay. Neither prompt nor answer is logged.
/// The bank entries of a model are only meaningful at temperature 0 on a deterministic backend: an honest worker on
/// other hardware may break a near tie differently; judging canaries by reference log-probs instead is not built yet.
/// </summary>
public sealed partial class Canaries(
    WorkerDirectory directory,
    UnbilledJobs jobs,
    ReputationBook book,
    WorkerOutcomes outcomes,
    IOptions<DispatchOptions> options,
    TimeProvider time,
    ILogger<Canaries> logger,
    Slashing.Slasher? slasher = null) : BackgroundService
{
    private readonly ConcurrentQueue<CanaryEntry> _added = new();

    /// <summary>The configured bank and entries added since start (e.g. computed by the network after a model was added).</summary>
    public IReadOnlyList<CanaryEntry> Bank => [.. options.Value.Canaries.Bank, .. _added];

    public void Add(CanaryEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        _added.Enqueue(entry);
    }

    /// <summary>SHA-256 of an answer's text, as the bank keeps it.</summary>
    public static string AnswerHash(string answer) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(answer)));

    /// <summary>Sends one canary of the worker's model to the worker now and records the verdict in its reputation.</summary>
    public async Task<CanaryResult> SendAsync(string workerId, CancellationToken cancellationToken)
    {
        if (directory.Find(workerId) is not { } worker)
        {
            return CanaryResult.NoVerdict;
        }

        var entries = Bank.Where(e => string.Equals(e.ModelSha256, worker.Document.ModelSha256, StringComparison.OrdinalIgnoreCase)).ToList();
        if (entries.Count == 0)
        {
            return CanaryResult.NoVerdict;
        }

        var entry = entries[RandomNumberGenerator.GetInt32(entries.Count)];
        var answer = await jobs.RunAsync(worker, new GenerationRequest
        {
            Prompt = entry.Prompt,
            Sampling = new SamplingOptions { MaxTokens = entry.MaxTokens, Temperature = 0, Seed = (uint)RandomNumberGenerator.GetInt32(int.MaxValue) },
        }, cancellationToken).ConfigureAwait(false);
        if (answer is null)
        {
            return CanaryResult.NoVerdict; // busy: a canary never takes a user's slot
        }

        var (outcome, text) = (answer.Outcome, answer.Text);
        CanaryResult result;
        ProbationCanary? probation; // what it means for a worker on probation (null: nothing, the worker is not to blame)
        if (outcome.Receipt is { } receipt)
        {
            await outcomes.CompletedAsync(worker, receipt.Receipt, outcome.Timings!).ConfigureAwait(false);
            result = string.Equals(AnswerHash(text), entry.AnswerSha256, StringComparison.OrdinalIgnoreCase) ? CanaryResult.Passed : CanaryResult.Failed;
            var job = new JobOutcome(JobResult.Completed, worker.SlaClass, outcome.Timings!.TimeToFirstToken, outcome.Timings.TokensPerSecond(receipt.Receipt.CompletionTokens));
            probation = result == CanaryResult.Failed ? ProbationCanary.Wrong : MetClass(book.Model.Policy, job) ? ProbationCanary.Passed : ProbationCanary.Slow;
        }
        else if (outcome.Failure == "late")
        {
            result = CanaryResult.Failed;
            probation = ProbationCanary.Missed; // late is not proof of a wrong model: it breaks the streak, it does not bar
        }
        else
        {
            // A refusal or a crash is a completion failure, not proof of a wrong model.
            await outcomes.FailedAsync(worker, outcome.Failure!).ConfigureAwait(false);
            result = CanaryResult.NoVerdict;
            probation = WorkerOutcomes.Classify(outcome.Failure!) is null ? null : ProbationCanary.Missed;
        }

        if (result != CanaryResult.NoVerdict || (probation is not null && book.State(workerId).Probation is { Active: true }))
        {
            var verdict = result == CanaryResult.NoVerdict ? null : new IntegrityVerdict(IntegrityKind.Canary, result == CanaryResult.Passed);
            await book.RecordCanaryAsync(workerId, verdict, probation ?? ProbationCanary.Missed, CancellationToken.None).ConfigureAwait(false);
            if (verdict is not null)
            {
                LogVerdict(logger, workerId, result == CanaryResult.Passed ? "passed" : "failed");
            }
        }

        // A wrong answer is proof (a late one is not: that costs reputation only).
        if (result == CanaryResult.Failed && outcome.Receipt is not null && slasher is not null)
        {
            await slasher.ProvenAsync(Engine.Slashing.Fault.FailedCanary, workerId, worker.ProviderId, null, "canary:" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)),
                new Dictionary<string, string> { ["model"] = worker.Document.ModelSha256, ["verdict"] = "the answer's SHA-256 differs from the network's reference answer" },
                cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>The same test <see cref="ReputationModel"/> applies to a completed job (no target: nothing to miss).</summary>
    private static bool MetClass(ReputationPolicy policy, JobOutcome job) =>
        policy.Target(job.DeclaredClass) is not { } target || (job.TimeToFirstToken <= target.MaxTimeToFirstToken && job.TokensPerSecond >= target.MinTokensPerSecond);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = options.Value.Canaries.Interval;
        if (interval <= TimeSpan.Zero)
        {
            return;
        }

        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                // A random moment in each period per worker, so canaries follow no schedule a worker could learn. Workers
                // on probation get theirs on the same interval (their way back); barred ones get none (each costs the network).
                foreach (var worker in directory.Eligible.Where(w => !book.Barred(w.Document.WorkerId)).ToList())
                {
                    var wait = TimeSpan.FromMilliseconds(RandomNumberGenerator.GetInt32((int)Math.Max(1, Math.Min(int.MaxValue, interval.TotalMilliseconds / Math.Max(1, directory.Eligible.Count)))));
                    await Task.Delay(wait, time, stoppingToken).ConfigureAwait(false);
                    try
                    {
                        await SendAsync(worker.Document.WorkerId, stoppingToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException && !stoppingToken.IsCancellationRequested)
                    {
                        LogSendFailed(logger, worker.Document.WorkerId, e);
                    }
                }

                await Task.Delay(interval / 2, time, stoppingToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.Reputation + 20, Level = LogLevel.Information, Message = "Canary on {WorkerId}: {Verdict}")]
    private static partial void LogVerdict(ILogger logger, string workerId, string verdict);

    [LoggerMessage(EventId = LogEvents.Reputation + 21, Level = LogLevel.Warning, Message = "Sending a canary to {WorkerId} failed")]
    private static partial void LogSendFailed(ILogger logger, string workerId, Exception exception);
}
