using System.Runtime.CompilerServices;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;
using Cocoon.Worker.Native;

namespace Cocoon.Worker.Inference;

/// <summary>The decode loop's part of a spot check (see ScoreRun): batch rows with logits, read right after the decode.</summary>
internal sealed partial class DecodeLoop
{
    /// <summary>Adds the next pre-fill token of a scored sequence, asking for its logits when they predict an answer token.</summary>
    private void AddScored(ref int n, Sequence s)
    {
        var score = s.Score!;
        var at = s.PromptFed;
        var answerIndex = score.AnswerIndexAt(at);
        _batch.Set(n, s.PromptTokens[at], s.Position, s.SeqId, answerIndex >= 0);
        if (answerIndex >= 0)
        {
            score.Rows.Add((n, answerIndex));
        }

        s.PromptFed++;
        s.Position++;
        n++;
    }

    /// <summary>Summarises this batch's scored rows; a scored sequence fully pre-filled is done (it never samples).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private unsafe void ReadScores()
    {
        foreach (var s in _active.ToArray())
        {
            if (s.Score is not { } score)
            {
                continue;
            }

            foreach (var (batchIndex, answerIndex) in score.Rows)
            {
                var logits = LlamaNative.llama_get_logits_ith(_context, batchIndex);
                if (logits is null)
                {
                    Fail(s, new LlamaException("llama.cpp returned no logits for a scored position."));
                    goto next;
                }

                score.Positions[answerIndex] = ScoreReport.Summarise(new ReadOnlySpan<float>(logits, _model.VocabSize), score.Answer[answerIndex], score.TopCount);
            }

            score.Rows.Clear();
            if (!s.IsPrefilling)
            {
                if (s.FirstTokenAt == 0)
                {
                    s.FirstTokenAt = _time.GetTimestamp();
                }

                Finish(s, FinishReason.Stop);
            }

        next:;
        }
    }
}
