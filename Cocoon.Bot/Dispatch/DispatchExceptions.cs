namespace Cocoon.Bot.Dispatch;

/// <summary>
/// No attested worker serves this model (unknown model, or every worker is refused or offline). HTTP 503/404.
/// Model is empty when the request named none and no model has a worker online.
/// </summary>
public sealed class ModelUnavailableException(string? model)
    : Exception(string.IsNullOrEmpty(model) ? "No attested worker is online right now." : $"No attested worker serves model '{model}' right now.")
{
    public string Model { get; } = model ?? string.Empty;
}

/// <summary>
/// The request breaks a protocol rule the gateway can decide before any hold (e.g. it cannot fit the context of any
/// worker of its model). An <see cref="ArgumentException"/> named after the OpenAI parameter, so the API answers 400.
/// </summary>
public sealed class GenerationRejectedException(Cocoon.Engine.Protocol.GenerationViolation violation)
    : ArgumentException(violation.Message, violation.Param)
{
    public Cocoon.Engine.Protocol.GenerationViolation Violation { get; } = violation;

    /// <summary>The rule's own words, without the " (Parameter '…')" suffix ArgumentException adds.</summary>
    public override string Message => Violation.Message;
}

/// <summary>
/// The request could not be answered; the hold was released, nothing was charged. Reason is a fixed code:
/// invalid-request (the worker's inference service refused it: 400), attempts-exhausted, receipt-invalid (all 502).
/// (retry-diverged is gone: a re-dispatch resumes the delivered answer instead of re-running it, see Dispatcher.)
/// </summary>
public sealed class DispatchFailedException(string reason, string message)
    : Exception(message)
{
    public string Reason { get; } = reason;
}
