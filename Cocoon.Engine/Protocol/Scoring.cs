namespace Cocoon.Engine.Protocol;

/// <summary>
/// A spot check's job: the worker pre-fills the request's prompt followed by <paramref name="AnswerTokens"/> (exactly
/// the ids the original worker drew, end-of-generation token included when it ended on one) in one batched decode,
/// samples nothing, and answers with a <see cref="SpotChecks.ScoreReport"/> (base64, as the reply's only text): per
/// answer position, the logits the rule needs. Sealed to the checker like any request.
/// </summary>
public sealed record ScoreRequest(IReadOnlyList<int> AnswerTokens);
