using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.SpotChecks;

/// <summary>
/// The candidate set ("support") and final probabilities of the worker's llama.cpp sampler chain, recomputed in managed
/// code so the gateway can judge a token without the native library. It follows Cocoon.Worker's chain
/// (LlamaInferenceService.CreateSampler) and llama.cpp's src/llama-sampler.cpp of the bundled release step by step:
/// <list type="number">
/// <item>penalties (only when RepetitionPenalty != 1): each token among the last 64 generated tokens has its logit
///   multiplied by the penalty when ≤ 0 and divided by it otherwise (frequency and presence penalties are 0; the worker
///   accepts only generated tokens into the window, never prompt tokens);</item>
/// <item>temperature 0: greedy, the support is the argmax;</item>
/// <item>top-k (TopK &gt; 0): the k largest logits;</item>
/// <item>top-p (TopP &lt; 1): softmax over what top-k left (on raw logits: temperature comes later), sorted descending,
///   kept up to and including the token at which the running sum first reaches p (min_keep 1);</item>
/// <item>min-p (MinP &gt; 0): logits ≥ max + ln(p) of what is left;</item>
/// <item>temperature: logits / T, then the distribution sampler draws from softmax over the support.</item>
/// </list>
/// Ties are read in the token's favour: llama.cpp's partial sort leaves the order of equal logits unspecified, so a
/// token tied at a boundary could have been kept. Arithmetic is in double; the checker's tolerance covers float rounding.
/// </summary>
public static class SamplerChain
{
    /// <summary>llama.cpp's penalty window as the worker configures it (penalty_last_n).</summary>
    public const int PenaltyWindow = 64;

    /// <summary>
    /// Applies the repetition penalty for the tokens generated before <paramref name="position"/> of
    /// <paramref name="generated"/> to a copy of <paramref name="logits"/>.
    /// </summary>
    public static double[] PenalisedLogits(ReadOnlySpan<float> logits, SamplingOptions options, IReadOnlyList<int> generated, int position)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(generated);
        var result = new double[logits.Length];
        for (var i = 0; i < logits.Length; i++)
        {
            result[i] = logits[i];
        }

        if (options.RepetitionPenalty == 1f || position == 0)
        {
            return result;
        }

        var seen = new HashSet<int>();
        for (var i = Math.Max(0, position - PenaltyWindow); i < position; i++)
        {
            var token = generated[i];
            if ((uint)token < (uint)result.Length && seen.Add(token))
            {
                result[token] = result[token] <= 0 ? result[token] * options.RepetitionPenalty : result[token] / options.RepetitionPenalty;
            }
        }

        return result;
    }

    /// <summary>
    /// Whether the chain could keep <paramref name="token"/> given these (already penalised) logits, ties in its favour.
    /// </summary>
    public static bool InSupport(ReadOnlySpan<double> logits, int token, SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if ((uint)token >= (uint)logits.Length)
        {
            return false;
        }

        var lt = logits[token];
        if (double.IsNaN(lt) || double.IsNegativeInfinity(lt))
        {
            return false;
        }

        // Candidates strictly above the token, in logit order; equal logits could have sorted either way.
        var above = 0;
        var max = double.NegativeInfinity;
        foreach (var l in logits)
        {
            if (l > lt)
            {
                above++;
            }

            if (l > max)
            {
                max = l;
            }
        }

        if (options.Temperature == 0f)
        {
            return above == 0;
        }

        var k = options.TopK > 0 ? Math.Min(options.TopK, logits.Length) : logits.Length;
        if (above >= k)
        {
            return false;
        }

        if (options.TopP < 1f)
        {
            // Softmax over the top-k survivors; the token survives when the mass strictly above it is still below p.
            var kth = KthLargest(logits, k);
            double z = 0, massAbove = 0;
            var counted = 0;
            foreach (var l in logits)
            {
                if (l > kth)
                {
                    var e = Math.Exp(l - max);
                    z += e;
                    counted++;
                    if (l > lt)
                    {
                        massAbove += e;
                    }
                }
            }

            // The survivors tied at the k-th logit fill the remaining places.
            z += (k - counted) * Math.Exp(kth - max);
            if (massAbove / z >= options.TopP)
            {
                return false;
            }
        }

        // min-p on what is left: its maximum is the overall maximum, which top-k and top-p always keep.
        return options.MinP <= 0f || lt >= max + Math.Log(options.MinP);
    }

    /// <summary>
    /// The chain's final distribution, what the worker's distribution sampler draws from: the support (equal logits at a
    /// boundary kept in an arbitrary order, as llama.cpp's partial sort does) and softmax(logit / T) over it. Greedy
    /// gives the argmax (the lowest id among equal maxima, as llama.cpp's greedy sampler) with probability 1.
    /// </summary>
    public static IReadOnlyList<(int Token, double Probability)> Distribution(ReadOnlySpan<double> logits, SamplingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Temperature == 0f)
        {
            var best = 0;
            for (var i = 1; i < logits.Length; i++)
            {
                if (logits[i] > logits[best])
                {
                    best = i;
                }
            }

            return [(best, 1.0)];
        }

        // Only the top-k can survive: sort just those (descending; equal logits in id order).
        var k = options.TopK > 0 ? Math.Min(options.TopK, logits.Length) : logits.Length;
        var kth = k < logits.Length ? KthLargest(logits, k) : double.NegativeInfinity;
        var candidates = new List<int>(k + 8);
        for (var i = 0; i < logits.Length; i++)
        {
            if (logits[i] >= kth)
            {
                candidates.Add(i);
            }
        }

        var values = logits.ToArray();
        candidates.Sort((a, b) => values[b].CompareTo(values[a]) is var c && c != 0 ? c : a.CompareTo(b));
        var order = candidates;
        var max = logits[order[0]];
        var size = Math.Min(k, order.Count);
        if (options.TopP < 1f)
        {
            double z = 0;
            for (var i = 0; i < size; i++)
            {
                z += Math.Exp(logits[order[i]] - max);
            }

            double cum = 0;
            for (var i = 0; i < size; i++)
            {
                cum += Math.Exp(logits[order[i]] - max) / z;
                if (cum >= options.TopP)
                {
                    size = i + 1;
                    break;
                }
            }
        }

        if (options.MinP > 0f)
        {
            var minLogit = max + Math.Log(options.MinP);
            var kept = 1;
            while (kept < size && logits[order[kept]] >= minLogit)
            {
                kept++;
            }

            size = kept;
        }

        var result = new (int, double)[size];
        double sum = 0;
        for (var i = 0; i < size; i++)
        {
            var p = Math.Exp((logits[order[i]] - max) / options.Temperature);
            result[i] = (order[i], p);
            sum += p;
        }

        for (var i = 0; i < size; i++)
        {
            result[i].Item2 /= sum;
        }

        return result;
    }

    /// <summary>The k-th largest value (1-based) by quickselect on a copy: linear time, the vocabulary can be large.</summary>
    internal static double KthLargest(ReadOnlySpan<double> values, int k)
    {
        var a = values.ToArray();
        int lo = 0, hi = a.Length - 1, target = k - 1;
        while (lo < hi)
        {
            var pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (a[i] > pivot)
                {
                    i++;
                }

                while (a[j] < pivot)
                {
                    j--;
                }

                if (i <= j)
                {
                    (a[i], a[j]) = (a[j], a[i]);
                    i++;
                    j--;
                }
            }

            if (target <= j)
            {
                hi = j;
            }
            else if (target >= i)
            {
                lo = i;
            }
            else
            {
                return a[target];
            }
        }

        return a[target];
    }
}
