using System.Security.Cryptography;
using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.SpotChecks;

/// <summary>
/// The gateway's verdict on a delivered answer from a checker's <see cref="ScoreReport"/>: first the report must fit
/// (one position per answer token, a vocabulary the tokens fit in), then the tokens must spell the delivered text and
/// end the way the receipt says (a "stop" ends on end-of-generation or a stop string, a "length" has max_tokens
/// tokens), then <see cref="SpotCheckRule"/> judges the tokens on the report's logits.
/// </summary>
public static class ScoreJudge
{
    public static SpotCheckVerdict Judge(
        SpotCheckRule rule, SamplingOptions sampling, IReadOnlyList<int> answerTokens, ScoreReport? report, string deliveredText, FinishReason finish)
    {
        ArgumentNullException.ThrowIfNull(rule);
        ArgumentNullException.ThrowIfNull(sampling);
        ArgumentNullException.ThrowIfNull(answerTokens);
        ArgumentNullException.ThrowIfNull(deliveredText);
        var n = answerTokens.Count;
        var allowed = 1 + (n * rule.ToleratedPerHundred / 100);
        if (report is null || report.Positions.Count != n || answerTokens.Any(t => (uint)t >= (uint)report.VocabSize))
        {
            return new SpotCheckVerdict(SpotCheckOutcome.Malformed, n, 0, allowed, -1, 0);
        }

        if (!CryptographicOperations.FixedTimeEquals(report.TextSha256, SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(deliveredText))))
        {
            return new SpotCheckVerdict(SpotCheckOutcome.TextMismatch, n, 0, allowed, -1, 0);
        }

        var generated = report.EndsWithEndOfGeneration ? n - 1 : n;
        var endingFits = finish switch
        {
            FinishReason.Stop => report.EndsWithEndOfGeneration || report.StopStringHit,
            FinishReason.Length => !report.EndsWithEndOfGeneration && generated >= sampling.MaxTokens,
            _ => !report.EndsWithEndOfGeneration,
        };
        if (!endingFits)
        {
            return new SpotCheckVerdict(SpotCheckOutcome.BadEnding, n, 0, allowed, n - 1, 0);
        }

        return rule.Judge(new SpotCheckInput(sampling, answerTokens, report.DenseLogits(answerTokens), report.EndsWithEndOfGeneration));
    }
}
