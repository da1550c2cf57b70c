namespace Cocoon.Bot.Dispatch;

/// <summary>No attested worker serves this model (unknown model, or every worker is refused or offline). HTTP 503/404.</summary>
public sealed class ModelUnavailableException(string model)
    : Exception($"No attested worker serves model '{model}' right now.")
{
    public string Model { get; } = model;
}

/// <summary>
/// The request could not be answered; the hold was released, nothing was charged. Reason is a fixed code:
/// invalid-request (the worker's inference service refused it: 400), attempts-exhausted, retry-diverged,
/// receipt-invalid (all 502).
/// </summary>
public sealed class DispatchFailedException(string reason, string message)
    : Exception(message)
{
    public string Reason { get; } = reason;
}
