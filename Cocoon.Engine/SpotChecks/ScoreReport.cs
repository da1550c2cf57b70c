using System.Buffers.Binary;
using System.Collections;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.SpotChecks;

/// <summary>
/// One answer position of a <see cref="ScoreReport"/>: the checker's raw logits (before any sampler) of the
/// <see cref="ScoreReport.TopCount"/> largest tokens, the answer token's own logit, and the log-sum-exp of every other
/// logit (the "rest": neither in the top nor the answer token). Nothing else of the vocabulary is sent.
/// </summary>
public sealed record ScoredPosition(float TokenLogit, float RestLogSumExp, int[] TopTokens, float[] TopLogits);

/// <summary>
/// What a checker returns for a spot check (<see cref="ScoreRequest"/>), compact enough to seal as a reply: a 32,000-token
/// vocabulary of float logits over hundreds of positions would be megabytes, this is about 8 bytes per top token per
/// position (40 × 8 + 10 ≈ 330 bytes per answer token with the default top-k 40).
/// <para>Why the top is enough for <see cref="SpotCheckRule"/>: the rule reads only the tokens the sampler chain can keep
/// (top-k, top-p and min-p), the answer token, and, for top-p with top-k off, the total probability mass. The report
/// sends the top-k (plus the 64-token penalty window when a repetition penalty can push tokens down, since a penalty
/// only lowers logits: the penalised top-k lies within the raw top-(k + 64)), the answer token, and the rest's mass as
/// one log-sum-exp. <see cref="DenseLogits"/> rebuilds a full vector with the rest's mass spread evenly over the rest
/// (each at log-sum-exp − ln(count), never above the smallest top logit), on which the rule is exact whenever the
/// request has 0 &lt; top_k ≤ 256 (the default is 40); with top_k off the support and likelihood use the top 256
/// tokens and the rest's exact mass.</para>
/// <para>It also says what the tokens spell: the SHA-256 of the text the checker's detokenizer (and the request's stop
/// strings) make of them, which the gateway compares with the delivered answer, and whether they end on an
/// end-of-generation token or a stop string, which the gateway compares with the receipt's finish reason.</para>
/// </summary>
public sealed record ScoreReport(int VocabSize, bool EndsWithEndOfGeneration, bool StopStringHit, byte[] TextSha256, IReadOnlyList<ScoredPosition> Positions)
{
    /// <summary>How many of the largest logits are sent when top_k is off.</summary>
    public const int TopWithoutTopK = 256;

    private static ReadOnlySpan<byte> Magic => "CSR1"u8;

    /// <summary>How many of the largest raw logits a checker reports per position for these sampling options.</summary>
    public static int TopCount(SamplingOptions sampling, int vocabSize)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        var top = sampling.Temperature == 0f ? 2 : sampling.TopK > 0 ? sampling.TopK : TopWithoutTopK;
        if (sampling.RepetitionPenalty != 1f)
        {
            top += SamplerChain.PenaltyWindow;
        }

        return Math.Clamp(top, 1, vocabSize);
    }

    /// <summary>The checker's summary of one position's full logits.</summary>
    public static ScoredPosition Summarise(ReadOnlySpan<float> logits, int answerToken, int topCount)
    {
        if ((uint)answerToken >= (uint)logits.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(answerToken), answerToken, "The answer token is outside the vocabulary.");
        }

        topCount = Math.Clamp(topCount, 1, logits.Length);
        // A min-heap of the best so far: the vocabulary is large, the top small.
        var heap = new PriorityQueue<int, (float Logit, int Negated)>(topCount + 1);
        for (var i = 0; i < logits.Length; i++)
        {
            var key = (logits[i], -i);
            if (heap.Count < topCount)
            {
                heap.Enqueue(i, key);
            }
            else if (heap.TryPeek(out _, out var least) && (key.Item1 > least.Logit || (key.Item1 == least.Logit && -i > least.Negated)))
            {
                heap.EnqueueDequeue(i, key);
            }
        }

        var top = new int[heap.Count];
        var topLogits = new float[heap.Count];
        for (var j = top.Length - 1; j >= 0; j--)
        {
            top[j] = heap.Dequeue();
            topLogits[j] = logits[top[j]];
        }

        var inTop = new HashSet<int>(top) { answerToken };
        var max = double.NegativeInfinity;
        for (var i = 0; i < logits.Length; i++)
        {
            if (!inTop.Contains(i) && logits[i] > max)
            {
                max = logits[i];
            }
        }

        double sum = 0;
        if (!double.IsNegativeInfinity(max))
        {
            for (var i = 0; i < logits.Length; i++)
            {
                if (!inTop.Contains(i))
                {
                    sum += Math.Exp(logits[i] - max);
                }
            }
        }

        var rest = sum > 0 ? (float)(max + Math.Log(sum)) : float.NegativeInfinity;
        return new ScoredPosition(logits[answerToken], rest, top, topLogits);
    }

    /// <summary>Full logit vectors for <see cref="SpotCheckInput"/>, built one position at a time as the rule reads them.</summary>
    public IReadOnlyList<float[]> DenseLogits(IReadOnlyList<int> answerTokens) => new Dense(this, answerTokens);

    public byte[] ToBytes()
    {
        var size = 4 + 4 + 4 + 1 + 32;
        foreach (var p in Positions)
        {
            size += 4 + 4 + 2 + (p.TopTokens.Length * 8);
        }

        var bytes = new byte[size];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[4..], VocabSize);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], Positions.Count);
        span[12] = (byte)((EndsWithEndOfGeneration ? 1 : 0) | (StopStringHit ? 2 : 0));
        TextSha256.AsSpan(0, 32).CopyTo(span[13..]);
        var at = 45;
        foreach (var p in Positions)
        {
            BinaryPrimitives.WriteSingleLittleEndian(span[at..], p.TokenLogit);
            BinaryPrimitives.WriteSingleLittleEndian(span[(at + 4)..], p.RestLogSumExp);
            BinaryPrimitives.WriteUInt16LittleEndian(span[(at + 8)..], checked((ushort)p.TopTokens.Length));
            at += 10;
            for (var j = 0; j < p.TopTokens.Length; j++)
            {
                BinaryPrimitives.WriteInt32LittleEndian(span[at..], p.TopTokens[j]);
                BinaryPrimitives.WriteSingleLittleEndian(span[(at + 4)..], p.TopLogits[j]);
                at += 8;
            }
        }

        return bytes;
    }

    /// <summary>The report, or null when the bytes are not one (a checker's malformed reply).</summary>
    public static ScoreReport? Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 45 || !bytes[..4].SequenceEqual(Magic))
        {
            return null;
        }

        var vocab = BinaryPrimitives.ReadInt32LittleEndian(bytes[4..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(bytes[8..]);
        if (vocab <= 0 || count < 0 || count > (bytes.Length - 45) / 10)
        {
            return null;
        }

        var flags = bytes[12];
        var sha = bytes.Slice(13, 32).ToArray();
        var positions = new ScoredPosition[count];
        var at = 45;
        for (var i = 0; i < count; i++)
        {
            if (bytes.Length - at < 10)
            {
                return null;
            }

            var tokenLogit = BinaryPrimitives.ReadSingleLittleEndian(bytes[at..]);
            var rest = BinaryPrimitives.ReadSingleLittleEndian(bytes[(at + 4)..]);
            var k = BinaryPrimitives.ReadUInt16LittleEndian(bytes[(at + 8)..]);
            at += 10;
            if (bytes.Length - at < k * 8 || k > vocab)
            {
                return null;
            }

            var top = new int[k];
            var logits = new float[k];
            for (var j = 0; j < k; j++)
            {
                top[j] = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
                logits[j] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(at + 4)..]);
                if ((uint)top[j] >= (uint)vocab || float.IsNaN(logits[j]))
                {
                    return null;
                }

                at += 8;
            }

            if (float.IsNaN(tokenLogit) || float.IsNaN(rest))
            {
                return null;
            }

            positions[i] = new ScoredPosition(tokenLogit, rest, top, logits);
        }

        return at == bytes.Length ? new ScoreReport(vocab, (flags & 1) != 0, (flags & 2) != 0, sha, positions) : null;
    }

    private sealed class Dense(ScoreReport report, IReadOnlyList<int> answerTokens) : IReadOnlyList<float[]>
    {
        public int Count => report.Positions.Count;

        public float[] this[int index]
        {
            get
            {
                var p = report.Positions[index];
                var vocab = report.VocabSize;
                var token = index < answerTokens.Count ? answerTokens[index] : -1;
                var known = new HashSet<int>(p.TopTokens);
                if ((uint)token < (uint)vocab)
                {
                    known.Add(token);
                }

                var restCount = vocab - known.Count;
                var fill = float.NegativeInfinity;
                if (restCount > 0 && !float.IsNegativeInfinity(p.RestLogSumExp))
                {
                    // The rest's mass spread evenly: never above the smallest top logit (each rest logit is below it).
                    fill = (float)(p.RestLogSumExp - Math.Log(restCount));
                    if (p.TopLogits.Length > 0)
                    {
                        fill = Math.Min(fill, p.TopLogits.Min());
                    }
                }

                var logits = new float[vocab];
                Array.Fill(logits, fill);
                for (var j = 0; j < p.TopTokens.Length; j++)
                {
                    logits[p.TopTokens[j]] = p.TopLogits[j];
                }

                if ((uint)token < (uint)vocab)
                {
                    logits[token] = p.TokenLogit;
                }

                return logits;
            }
        }

        public IEnumerator<float[]> GetEnumerator()
        {
            for (var i = 0; i < Count; i++)
            {
                yield return this[i];
            }
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
