using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Worker.Inference;

/// <summary>
/// A spot check's state on the decode thread: the sequence's tokens are the prompt followed by the answer being
/// checked, all pre-filled like a prompt (in as few batches as the batch size allows) with logits requested at every
/// position that predicts an answer token, i.e. full positions promptLength − 1 … promptLength + answerLength − 2.
/// Each of those rows is summarised at once (<see cref="ScoreReport.Summarise"/>: the top logits, the answer token's and
/// the rest's log-sum-exp) so no full vocabulary row outlives its batch. Nothing is sampled.
/// </summary>
internal sealed class ScoreRun
{
    public ScoreRun(int promptLength, int[] answer, SamplingOptions sampling, int vocabSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(promptLength, 1);
        ArgumentNullException.ThrowIfNull(answer);
        PromptLength = promptLength;
        Answer = answer;
        TopCount = ScoreReport.TopCount(sampling, vocabSize);
        Positions = new ScoredPosition[answer.Length];
    }

    public int PromptLength { get; }

    public int[] Answer { get; }

    public int TopCount { get; }

    /// <summary>One summary per answer token, filled as the batches are decoded.</summary>
    public ScoredPosition[] Positions { get; }

    /// <summary>This batch's rows for the sequence: (index in the batch, answer token the row predicts).</summary>
    public List<(int BatchIndex, int AnswerIndex)> Rows { get; } = [];

    /// <summary>The answer token the logits at full position <paramref name="position"/> predict, or -1.</summary>
    public int AnswerIndexAt(int position)
    {
        var index = position - PromptLength + 1;
        return index >= 0 && index < Answer.Length ? index : -1;
    }
}
