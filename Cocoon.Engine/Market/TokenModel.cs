using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Engine.Market;

/// <summary>
/// Token-level behaviour for the simulation. The attested model's logits at each position are drawn so that some
/// positions are near-certain and others open (as in real text), the end-of-generation token (id 0) is far out of
/// reach before the answer's natural end and dominant at it. Every worker sees those logits plus its own small noise;
/// another model sees logits correlated with them. Workers sample through the exact chain of
/// <see cref="SamplerChain"/>; the checker scores with <see cref="SpotCheckRule"/>.
/// </summary>
internal sealed class TokenModel(MarketOptions options, Random random)
{
    public const int EndOfGeneration = 0;

    /// <summary>One answer to be checked: the attested model's logits per position and the answer as delivered.</summary>
    public sealed record Answer(SamplingOptions Sampling, float[][] TrueLogits, int[] Tokens);

    public SamplingOptions DrawSampling()
    {
        if (random.NextDouble() < options.GreedyShare)
        {
            return new SamplingOptions { Temperature = 0f, RepetitionPenalty = random.NextDouble() < options.PenaltyShare ? 1.1f : 1f };
        }

        return new SamplingOptions
        {
            Temperature = (float)(0.7 + 0.3 * random.NextDouble()),
            TopK = 40,
            TopP = 0.95f,
            MinP = 0.05f,
            RepetitionPenalty = random.NextDouble() < options.PenaltyShare ? 1.1f : 1f,
        };
    }

    /// <summary>Answer lengths: log-normal around 90 tokens, 8 to 400.</summary>
    public int DrawLength() => Math.Clamp((int)Math.Exp(4.5 + 0.6 * Normal()), 8, 400);

    /// <summary>Generates an answer of <paramref name="length"/> content tokens plus the end, as the worker behaves.</summary>
    public Answer Generate(WorkerBehaviour behaviour, SamplingOptions sampling, int length)
    {
        var truncateAt = behaviour == WorkerBehaviour.Truncates ? Math.Max(1, (int)(length * (0.3 + 0.5 * random.NextDouble()))) : int.MaxValue;
        var logits = new float[length + 1][];
        var tokens = new List<int>(length + 1);
        for (var i = 0; i <= length; i++)
        {
            var truth = TrueLogits(end: i == length);
            logits[i] = truth;
            if (i == truncateAt)
            {
                tokens.Add(EndOfGeneration);
                Array.Resize(ref logits, i + 1);
                break;
            }

            var view = behaviour == WorkerBehaviour.OtherModel ? OtherModel(truth) : WithNoise(truth);
            tokens.Add(Sample(SamplerChain.PenalisedLogits(view, sampling, tokens, i), sampling));
        }

        return new Answer(sampling, logits, [.. tokens]);
    }

    /// <summary>How a checker sees the answer: the attested model's logits with its own noise, or its own other model's.</summary>
    public SpotCheckInput CheckerView(Answer answer, WorkerBehaviour checker)
    {
        var views = new float[answer.TrueLogits.Length][];
        for (var i = 0; i < views.Length; i++)
        {
            views[i] = checker == WorkerBehaviour.OtherModel ? OtherModel(answer.TrueLogits[i]) : WithNoise(answer.TrueLogits[i]);
        }

        return new SpotCheckInput(answer.Sampling, answer.Tokens, views, EndsWithEndOfGeneration: true);
    }

    private float[] TrueLogits(bool end)
    {
        var v = options.Vocabulary;
        var logits = new float[v];
        var spread = 1.0 + 1.5 * random.NextDouble();
        for (var j = 0; j < v; j++)
        {
            logits[j] = (float)(spread * Normal());
        }

        if (random.NextDouble() < 0.55)
        {
            // A near-certain position: one token well above the rest.
            logits[1 + random.Next(v - 1)] += (float)(3 + 5 * random.NextDouble());
        }

        logits[EndOfGeneration] = end ? 20f : -20f;
        return logits;
    }

    private float[] WithNoise(float[] truth)
    {
        var result = new float[truth.Length];
        for (var j = 0; j < truth.Length; j++)
        {
            result[j] = truth[j] + (float)(options.LogitNoise * Normal());
        }

        return result;
    }

    /// <summary>ρ·truth + √(1−ρ²)·(an independent draw of the same shape): a related model that ends where the real one does.</summary>
    private float[] OtherModel(float[] truth)
    {
        var rho = options.OtherModelCorrelation;
        var independent = TrueLogits(end: false);
        var mix = Math.Sqrt(1 - rho * rho);
        var result = new float[truth.Length];
        for (var j = 0; j < truth.Length; j++)
        {
            result[j] = (float)(rho * truth[j] + mix * independent[j] + options.LogitNoise * Normal());
        }

        result[EndOfGeneration] = truth[EndOfGeneration];
        return result;
    }

    private int Sample(double[] logits, SamplingOptions sampling)
    {
        var distribution = SamplerChain.Distribution(logits, sampling);
        var u = random.NextDouble();
        foreach (var (token, p) in distribution)
        {
            u -= p;
            if (u <= 0)
            {
                return token;
            }
        }

        return distribution[^1].Token;
    }

    private double _spare = double.NaN;

    private double Normal()
    {
        // Box–Muller, both of the pair.
        if (!double.IsNaN(_spare))
        {
            var spare = _spare;
            _spare = double.NaN;
            return spare;
        }

        var u1 = 1.0 - random.NextDouble();
        var u2 = random.NextDouble();
        var r = Math.Sqrt(-2.0 * Math.Log(u1));
        var (sin, cos) = Math.SinCos(2 * Math.PI * u2);
        _spare = r * sin;
        return r * cos;
    }
}
