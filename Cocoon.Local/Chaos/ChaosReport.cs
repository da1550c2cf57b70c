using System.Globalization;
using System.Text;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;

namespace Cocoon.Local.Chaos;

/// <summary>
/// The figures of one chaos run, from what the clients saw, what the gateways logged and what the ledger holds. The
/// run passes only with nothing lost, nothing answered twice, nothing billed twice, no hold left open, a balanced
/// ledger, and every fault actually applied.
/// </summary>
internal sealed class ChaosReport
{
    public int Jobs { get; private init; }
    public int Completed { get; private init; }
    public int CompletedAfterRetry { get; private init; }
    public Dictionary<string, int> Failed { get; private init; } = [];
    public int CutByGatewayKill { get; private init; }
    public List<string> Lost { get; private init; } = [];
    public List<string> FailedDetails { get; private init; } = [];
    public List<string> AnsweredTwice { get; private init; } = [];
    public List<string> BilledTwice { get; private init; } = [];
    public int ChargedWithoutReceiptAfterGatewayKill { get; private init; }
    public int Settlements { get; private init; }
    public int JobsHitByWorkerKills { get; private init; }
    public int JobsRedispatchedByRedisRestart { get; private init; }
    public Dictionary<string, int> AttemptFailures { get; private init; } = [];
    public long HoldsLeft { get; private init; }
    public required LedgerCheckReport Check { get; init; }
    public required ChaosFaults Faults { get; init; }

    public bool Pass => Lost.Count == 0 && AnsweredTwice.Count == 0 && BilledTwice.Count == 0 && HoldsLeft == 0 && Check.Ok &&
        Faults.Problems.Count == 0 && Faults.WorkerKills > 0 && Faults.GatewayBackAt is not null && Faults.RedisBackAt is not null;

    public static ChaosReport Build(
        IReadOnlyList<ChaosJob> jobs, ChaosDriver driver, ChaosFaults faults, ChaosStack stack,
        IReadOnlyDictionary<string, RequestCharge> charges, long holdsLeft, LedgerCheckReport check)
    {
        var failed = new Dictionary<string, int>(StringComparer.Ordinal);
        var lost = new List<string>();
        var failedDetails = new List<string>();
        var twice = new List<string>();
        var billed = new List<string>();
        int completed = 0, afterRetry = 0, cut = 0, chargedAfterKill = 0;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var all = jobs.SelectMany(j => j.Requests.Select(r => (Job: j.Index.ToString(CultureInfo.InvariantCulture), Request: r)))
            .Concat(driver.ReferenceRequests.Select(r => (Job: "reference " + r.Prompt.ToString(CultureInfo.InvariantCulture), Request: r)));
        foreach (var (job, r) in all)
        {
            var reference = driver.References.GetValueOrDefault(r.Prompt);
            var killed = faults.CutByGatewayKill(r);
            if (r.Anomalies.Count > 0)
            {
                twice.Add($"job {job} ({r.RequestId}): {string.Join(", ", r.Anomalies)}");
            }
            else if (reference is not null && (r.Completed ? r.Text != reference : !reference.StartsWith(r.Text, StringComparison.Ordinal)))
            {
                // Positions and lengths only: the answers are not printed.
                twice.Add($"job {job} ({r.RequestId}): its text ({r.Text.Length} characters) departs from the greedy answer to its prompt ({reference.Length}) at character {Departure(r.Text, reference)}");
            }

            if (r.RequestId is { } id)
            {
                seen.Add(id);
                var charge = charges.GetValueOrDefault(id);
                if (charge is { Settlements: > 1 })
                {
                    billed.Add($"job {job} ({id}): {charge.Settlements} settlements");
                }
                else if (r.Completed && (charge is null || charge.Charged != r.Cost))
                {
                    billed.Add($"job {job} ({id}): told {r.Cost} nanotons, charged {charge?.Charged.ToString(CultureInfo.InvariantCulture) ?? "nothing (no hold)"}");
                }
                else if (!r.Completed && charge is { Charged: > 0 })
                {
                    if (killed)
                    {
                        // Settled just before the gateway died, the cost never reached the client: counted apart.
                        chargedAfterKill++;
                    }
                    else
                    {
                        billed.Add($"job {job} ({id}): charged {charge.Charged} nanotons for an answer that ended with {r.ErrorCode ?? r.Transport}");
                    }
                }
            }
        }

        foreach (var (id, charge) in charges.Where(c => !seen.Contains(c.Key) && c.Value.Charged > 0))
        {
            billed.Add($"request {id}: charged {charge.Charged} nanotons but no client was told of this request");
        }

        foreach (var job in jobs)
        {
            var final = job.Final;
            cut += job.Requests.Count(faults.CutByGatewayKill);
            if (final.Completed)
            {
                completed++;
                afterRetry += job.Requests.Count > 1 ? 1 : 0;
            }
            else if (final.FailedClearly)
            {
                failed[final.ErrorCode!] = failed.GetValueOrDefault(final.ErrorCode!) + 1;
                failedDetails.Add($"job {job.Index} ({final.RequestId ?? "no request id"}) on gateway {final.Gateway + 1} at {final.Ended:HH:mm:ss.fff}: status {final.Status}, {final.ErrorCode}, {final.Text.Length} characters received first");
            }
            else if (faults.CutByGatewayKill(final))
            {
                failed["gateway_killed"] = failed.GetValueOrDefault("gateway_killed") + 1;
            }
            else
            {
                lost.Add($"job {job.Index} ({final.RequestId ?? "no request id"}) on gateway {final.Gateway + 1}: status {final.Status?.ToString(CultureInfo.InvariantCulture) ?? "none"}, {final.Transport}, {final.Text.Length} characters received");
            }
        }

        var reasons = stack.FailedAttempts.Values.SelectMany(q => q).GroupBy(r => r.Reason, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        return new ChaosReport
        {
            Jobs = jobs.Count,
            Completed = completed,
            CompletedAfterRetry = afterRetry,
            Failed = failed,
            CutByGatewayKill = cut,
            Lost = lost,
            FailedDetails = failedDetails,
            AnsweredTwice = twice,
            BilledTwice = billed,
            ChargedWithoutReceiptAfterGatewayKill = chargedAfterKill,
            Settlements = charges.Values.Sum(c => c.Settlements),
            JobsHitByWorkerKills = faults.JobsHitByWorkerKills(),
            JobsRedispatchedByRedisRestart = faults.JobsRedispatchedByRedisRestart(),
            AttemptFailures = reasons,
            HoldsLeft = holdsLeft,
            Check = check,
            Faults = faults,
        };
    }

    public string Render(ChaosSettings settings, TimeSpan wall)
    {
        var b = new StringBuilder();
        var f = Faults;
        b.AppendLine(CultureInfo.InvariantCulture, $"cocoon chaos: {Jobs} streamed chat completions, {settings.Concurrency} at a time, over {ChaosSettings.Gateways} gateways and {ChaosSettings.Workers} workers; greedy, max_tokens {settings.MaxTokens}; wall time {wall:hh\\:mm\\:ss}");
        b.AppendLine(CultureInfo.InvariantCulture, $"  faults:            {f.WorkerKills} worker SIGKILLs hitting {JobsHitByWorkerKills} jobs ({Percent(JobsHitByWorkerKills, Jobs)}; re-dispatched to another worker), " +
            $"1 gateway SIGKILL ({Seconds(f.GatewayKilledAt, f.GatewayBackAt)} until it served again), 1 Redis restart ({Seconds(f.RedisStoppedAt, f.RedisBackAt)} until it answered again; {JobsRedispatchedByRedisRestart} jobs had an attempt fail with it)");
        b.AppendLine(CultureInfo.InvariantCulture, $"  attempt failures:  {(AttemptFailures.Count == 0 ? "none" : string.Join(", ", AttemptFailures.OrderByDescending(r => r.Value).Select(r => $"{r.Key} {r.Value}")))} (the gateways' re-dispatch reasons)");
        b.AppendLine(CultureInfo.InvariantCulture, $"  completed:         {Completed} ({CompletedAfterRetry} of them after a retry on the other gateway)");
        b.AppendLine(CultureInfo.InvariantCulture, $"  failed, clear:     {Failed.Values.Sum()}{(Failed.Count == 0 ? string.Empty : " (" + string.Join(", ", Failed.OrderByDescending(r => r.Value).Select(r => $"{r.Key} {r.Value}")) + ")")}");
        b.AppendLine(CultureInfo.InvariantCulture, $"  cut by the gateway kill: {CutByGatewayKill} (the client saw its connection refused or dropped, was not charged{(ChargedWithoutReceiptAfterGatewayKill > 0 ? $" except {ChargedWithoutReceiptAfterGatewayKill} settled just before the kill" : string.Empty)}, and retried on the other gateway)");
        b.AppendLine(CultureInfo.InvariantCulture, $"  lost:              {Lost.Count}");
        b.AppendLine(CultureInfo.InvariantCulture, $"  answered twice:    {AnsweredTwice.Count}");
        b.AppendLine(CultureInfo.InvariantCulture, $"  billed twice:      {BilledTwice.Count} ({Settlements} settlements in the ledger)");
        b.AppendLine(CultureInfo.InvariantCulture, $"  holds left open:   {HoldsLeft}");
        b.AppendLine(CultureInfo.InvariantCulture, $"  ledger check:      {Check.Summary}");
        foreach (var (title, list) in new[] { ("failed", FailedDetails), ("lost", Lost), ("answered twice", AnsweredTwice), ("billed twice", BilledTwice), ("fault problems", f.Problems) })
        {
            foreach (var line in list.Take(10))
            {
                b.AppendLine(CultureInfo.InvariantCulture, $"  {title}: {line}");
            }
        }

        b.AppendLine(Pass ? "chaos: PASS" : "chaos: FAIL");
        return b.ToString();
    }

    private static string Percent(int part, int whole) => whole == 0 ? "0%" : (100.0 * part / whole).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string Seconds(DateTime? from, DateTime? to) =>
        from is { } a && to is { } b ? (b - a).TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture) + " s" : "never";

    private static int Departure(string a, string b)
    {
        var i = 0;
        while (i < a.Length && i < b.Length && a[i] == b[i])
        {
            i++;
        }

        return i;
    }
}
