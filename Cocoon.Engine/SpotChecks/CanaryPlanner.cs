namespace Cocoon.Engine.SpotChecks;

/// <summary>One job as traffic statistics keep it: sizes and spacing only, never content.</summary>
public readonly record struct TrafficSample(int PromptTokens, int MaxTokens, double Temperature, TimeSpan GapSincePrevious);

/// <summary>
/// A canary in the bank: a prompt whose answer the network computed itself (on its own hardware, at temperature 0)
/// together with the reference logits along that answer, so a diverging but honest answer can still be scored by
/// <see cref="SpotCheckRule"/>. Only ids and sizes are here: the text lives sealed in the bank, never in logs.
/// </summary>
public sealed record CanaryPrompt(string Id, int PromptTokens, int AnswerTokens);

/// <summary>What to send, to whom, when, and under which caller id.</summary>
public sealed record CanaryPlan(string WorkerId, string CanaryId, int MaxTokens, TimeSpan SendAfter, string CallerId);

/// <summary>
/// Plans blind canaries so a worker cannot tell them from traffic: the prompt is the bank entry whose size is nearest
/// a size drawn from observed traffic, max_tokens is drawn from traffic too (at least the known answer's length, so
/// the answer is not cut), the send time follows the observed gaps between jobs, and the caller id is drawn from a pool
/// of ids that look like any other. Each worker gets canaries at <see cref="Rate"/> of the jobs it serves, and a new
/// worker (no integrity history) at <see cref="NewWorkerRate"/> until it has <see cref="NewWorkerChecks"/> verdicts.
/// Temperature 0 canaries are only indistinguishable when some real traffic is greedy: the planner reports the
/// observed greedy share, and below <see cref="MinimumGreedyShare"/> the gateway should switch to sampled canaries judged
/// by the reference logits (the same rule as replays) instead of the known answer.
/// </summary>
public sealed record CanaryPlanner
{
    public double Rate { get; init; } = 0.005;

    public double NewWorkerRate { get; init; } = 0.05;

    public int NewWorkerChecks { get; init; } = 5;

    public double MinimumGreedyShare { get; init; } = 0.05;

    /// <summary>Whether the worker's next job slot gets a canary, from a uniform draw the caller makes (seeded RNG).</summary>
    public bool ShouldSendCanary(double uniform, int integrityVerdicts) =>
        uniform < (integrityVerdicts < NewWorkerChecks ? NewWorkerRate : Rate);

    public static double GreedyShare(IReadOnlyList<TrafficSample> traffic)
    {
        ArgumentNullException.ThrowIfNull(traffic);
        return traffic.Count == 0 ? 0 : (double)traffic.Count(t => t.Temperature == 0) / traffic.Count;
    }

    /// <summary>
    /// Plans one canary for <paramref name="workerId"/>; <paramref name="random"/> is the caller's (a seeded one in the
    /// simulation, a cryptographic one in the gateway, so workers cannot predict it). Null when there is no traffic to
    /// imitate or no bank entry.
    /// </summary>
    public static CanaryPlan? Plan(string workerId, IReadOnlyList<TrafficSample> traffic, IReadOnlyList<CanaryPrompt> bank, IReadOnlyList<string> callerIds, Random random)
    {
        ArgumentNullException.ThrowIfNull(traffic);
        ArgumentNullException.ThrowIfNull(bank);
        ArgumentNullException.ThrowIfNull(callerIds);
        ArgumentNullException.ThrowIfNull(random);
        if (traffic.Count == 0 || bank.Count == 0 || callerIds.Count == 0)
        {
            return null;
        }

        var shape = traffic[random.Next(traffic.Count)];
        var canary = bank[0];
        foreach (var c in bank)
        {
            if (Math.Abs(c.PromptTokens - shape.PromptTokens) < Math.Abs(canary.PromptTokens - shape.PromptTokens))
            {
                canary = c;
            }
        }

        var maxTokens = Math.Max(shape.MaxTokens, canary.AnswerTokens + 1);
        var gap = traffic[random.Next(traffic.Count)].GapSincePrevious;
        return new CanaryPlan(workerId, canary.Id, maxTokens, gap < TimeSpan.Zero ? TimeSpan.Zero : gap, callerIds[random.Next(callerIds.Count)]);
    }
}
