using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.SpotChecks;

/// <summary>
/// What a second worker returns for a replay: it pre-fills the prompt plus the original answer's tokens and reports,
/// for each answer position i, the logits it computed for that position (before any sampler). When the original
/// finished with a stop (not a length cut), the answer's last token is the end-of-generation token, so the end itself
/// is checked.
/// </summary>
public sealed record SpotCheckInput(SamplingOptions Sampling, IReadOnlyList<int> AnswerTokens, IReadOnlyList<float[]> Logits, bool EndsWithEndOfGeneration);

public enum SpotCheckOutcome
{
    Passed,
    /// <summary>More answer tokens than the tolerance allows lie outside the sampler's support.</summary>
    OutOfSupport,
    /// <summary>The answer ends where the model would not have ended it (a truncated answer).</summary>
    BadEnding,
    /// <summary>Every token may be in the support, but they are far less likely than honest sampling gives.</summary>
    Unlikely,
    /// <summary>The checker's report does not fit the answer (position count, vocabulary): no verdict on the original.</summary>
    Malformed,
    /// <summary>The tokens the original worker reported do not spell the answer it delivered.</summary>
    TextMismatch,
}

/// <summary>The verdict and the numbers behind it, for the tie-break, the reputation reasons and the provider.</summary>
public sealed record SpotCheckVerdict(
    SpotCheckOutcome Outcome,
    int Tokens,
    int OutOfSupport,
    int AllowedOutOfSupport,
    int FirstOutOfSupport,
    double LikelihoodZ)
{
    public bool Passed => Outcome == SpotCheckOutcome.Passed;
}

/// <summary>
/// The published spot-check rule. For answer position i with token t, let l be the checker's logits at i after the
/// request's repetition penalty (window: the answer's previous 64 tokens).
/// <para><b>Per token.</b> t passes when some logits within ±<see cref="LogitTolerance"/> of l (per logit) make
/// llama.cpp's chain keep t (<see cref="SamplerChain"/>): raise t and every token not above it by the tolerance,
/// lower every token above it, and run the chain with ties in t's favour. Greedy (temperature 0): t must be the argmax
/// of those logits, i.e. within 2×tolerance of the best. Sampled: t must survive top-k, top-p and min-p of those
/// logits. The tolerance absorbs the logit noise between two honest machines (batch composition, kernels, float
/// order); the seed is not used: two honest workers need not sample the same text.</para>
/// <para><b>Over the answer.</b> The check fails when (a) more than 1 + ⌊n/100⌋ of the n tokens fail the per-token test
/// (a stray near-boundary token is tolerated, a different model is not), or (b) the answer ends with the
/// end-of-generation token and that last token fails (no tolerance: this is how a truncated answer is caught), or
/// (c) for sampled requests, z = Σ(log q(tᵢ) − E[log q]) / √Σ Var[log q] &lt; −<see cref="LikelihoodZFloor"/>, where q
/// is the chain's final distribution at position i (temperature applied) on the checker's logits: an honest sampler's
/// tokens have on average the log-likelihood the distribution predicts, a different model's are systematically less
/// likely even when each of them stays in the support. Positions whose distribution has a single token carry no
/// variance and are left out of (c).</para>
/// <para>False-positive rate, measured by the market simulation (<c>./cocoon bench market</c>; each worker's logits carry
/// independent noise of sd 0.02, a 128-token vocabulary, 30% greedy requests, 20% with a repetition penalty): no honest
/// answer rejected in 4,500 direct checks nor in about 8,000 replays and canaries of honest workers over 300,000 market
/// jobs, so below 3 in 10,000 per check at 95% confidence. One check catches another model of logit correlation 0.8 /
/// 0.9 / 0.95 / 0.98 with probability 99.7% / 95.3% / 82.7% / 52.0%, and a truncated answer always. The tolerance is a
/// parameter because real cross-hardware noise has not been measured yet: measure it before tightening it.</para>
/// <para>On the real llama.cpp (<c>./cocoon bench spotcheck</c>, stories260K, checker = another context with another batch
/// size, answers scored in score mode through <see cref="ScoreReport"/> and <see cref="ScoreJudge"/>): 0 false positives
/// in 160 honest sampled answers (25,600 tokens; temperature 0.7–1.0, top-k 40 or off, repetition penalty 1 or 1.1,
/// half generated in batches of 8) and 36 greedy ones, worst z −2.96, no token out of support. Caught: 120/120 truncated
/// answers claiming a stop, 120/120 cut answers claiming a length stop, 120/120 with one token in 20 swapped, 120/120
/// sampled at temperature 1.5 without filters, 40/40 from another (random-weight) model; but only 41/120 answers to
/// another prompt of the same model (plausible text: a replayed answer is the canaries' and the request hash's job).</para>
/// </summary>
public sealed record SpotCheckRule
{
    /// <summary>Per-logit tolerance between the original worker's and the checker's logits.</summary>
    public double LogitTolerance { get; init; } = 0.15;

    /// <summary>Out-of-support tokens tolerated per 100 answer tokens, on top of one.</summary>
    public int ToleratedPerHundred { get; init; } = 1;

    /// <summary>How many standard deviations below its expectation the answer's log-likelihood may lie.</summary>
    public double LikelihoodZFloor { get; init; } = 6.0;

    public static SpotCheckRule Default { get; } = new();

    public SpotCheckVerdict Judge(SpotCheckInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var tokens = input.AnswerTokens;
        var n = tokens.Count;
        var allowed = 1 + n * ToleratedPerHundred / 100;
        if (input.Logits.Count != n)
        {
            return new SpotCheckVerdict(SpotCheckOutcome.Malformed, n, 0, allowed, -1, 0);
        }

        var sampling = input.Sampling;
        var greedy = sampling.Temperature == 0f;
        var misses = 0;
        var firstMiss = -1;
        double sumDeviation = 0, sumVariance = 0;
        for (var i = 0; i < n; i++)
        {
            var token = tokens[i];
            var raw = input.Logits[i];
            if ((uint)token >= (uint)raw.Length)
            {
                return new SpotCheckVerdict(SpotCheckOutcome.Malformed, n, misses, allowed, firstMiss, 0);
            }

            var logits = SamplerChain.PenalisedLogits(raw, sampling, tokens, i);
            if (!TokenPasses(logits, token, sampling))
            {
                if (input.EndsWithEndOfGeneration && i == n - 1)
                {
                    return new SpotCheckVerdict(SpotCheckOutcome.BadEnding, n, misses + 1, allowed, firstMiss < 0 ? i : firstMiss, 0);
                }

                misses++;
                if (firstMiss < 0)
                {
                    firstMiss = i;
                }
            }

            if (!greedy)
            {
                AddLikelihood(logits, token, sampling, ref sumDeviation, ref sumVariance);
            }
        }

        var z = sumVariance > 0 ? sumDeviation / Math.Sqrt(sumVariance) : 0;
        var outcome = misses > allowed ? SpotCheckOutcome.OutOfSupport
            : z < -LikelihoodZFloor ? SpotCheckOutcome.Unlikely
            : SpotCheckOutcome.Passed;
        return new SpotCheckVerdict(outcome, n, misses, allowed, firstMiss, z);
    }

    /// <summary>The per-token test alone: could llama.cpp's chain have kept this token, within the tolerance?</summary>
    public bool TokenPasses(double[] penalisedLogits, int token, SamplingOptions sampling)
    {
        ArgumentNullException.ThrowIfNull(penalisedLogits);
        var lt = penalisedLogits[token];
        var favourable = new double[penalisedLogits.Length];
        for (var j = 0; j < favourable.Length; j++)
        {
            var l = penalisedLogits[j];
            favourable[j] = l > lt ? l - LogitTolerance : l + LogitTolerance;
        }

        return SamplerChain.InSupport(favourable, token, sampling);
    }

    private static void AddLikelihood(double[] logits, int token, SamplingOptions sampling, ref double sumDeviation, ref double sumVariance)
    {
        var distribution = SamplerChain.Distribution(logits, sampling);
        if (distribution.Count < 2)
        {
            return;
        }

        double mean = 0, second = 0, pToken = 0;
        foreach (var (t, p) in distribution)
        {
            var lp = Math.Log(p);
            mean += p * lp;
            second += p * lp * lp;
            if (t == token)
            {
                pToken = p;
            }
        }

        if (pToken == 0)
        {
            // Outside the exact support (it passed, or was counted, by the tolerant test): score it as if it had
            // the smallest kept token's probability, so one stray token cannot dominate the sum.
            pToken = distribution[^1].Probability;
        }

        sumDeviation += Math.Log(pToken) - mean;
        sumVariance += Math.Max(0, second - mean * mean);
    }
}
