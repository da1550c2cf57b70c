using Cocoon.Engine.Protocol;
using Cocoon.Engine.SpotChecks;

namespace Cocoon.Worker.Inference;

/// <summary>A spot check's work on this worker: score an answer's tokens under the request (see ScoreRequest).</summary>
public interface IScoringService
{
    /// <summary>Pre-fills prompt + answer and reports the logits the rule needs; ArgumentException for a request that does not fit.</summary>
    Task<ScoreResult> ScoreAsync(GenerationRequest request, CancellationToken cancellationToken);
}

/// <summary>The report and what the receipt counts: every pre-filled token (prompt + answer) is a prompt token.</summary>
public sealed record ScoreResult(ScoreReport Report, int PromptTokens, TimeSpan Elapsed);
