using System.Collections.Frozen;
using System.Diagnostics.Metrics;

namespace Cocoon.Bot.Observability;

/// <summary>
/// What the API edge measures, as the client sees it. Labels are only endpoint, status, model and refusal reason,
/// each held to a bounded set (<see cref="BoundedLabel"/>): never a user, a key or any text a client chose.
/// </summary>
public sealed class ApiMetrics : IDisposable
{
    public const string MeterName = "Cocoon.Api";

    /// <summary>The API's error codes: the refusal reasons the metric knows; anything else is counted as "other".</summary>
    public static IReadOnlySet<string> RefusalReasons { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "invalid_api_key", "request_too_large", "model_not_found", "unknown_parameter", "invalid_json", "invalid_type",
        "invalid_value", "missing_required_parameter", "unsupported_value", "unsupported_parameter", "unsupported_media_type",
        "invalid_body", "invalid_request", "context_length_exceeded", "workers_busy", "model_unavailable", "insufficient_funds",
        "timeout", "dispatch_failed", "interrupted", "retry_diverged", "attempts_exhausted", "unknown_url", "internal_error",
    };

    private static readonly FrozenSet<string> Endpoints = FrozenSet.Create(StringComparer.Ordinal, "chat.completions", "completions", "models");

    private static readonly FrozenSet<int> Statuses = FrozenSet.Create(200, 400, 401, 402, 404, 408, 413, 415, 429, 431, 499, 500, 502, 503, 504);

    private readonly BoundedLabel _reasons = new(RefusalReasons, maxOthers: 0);

    // Model names come from attested workers, not clients, but a provider still chooses them: keep the first 64.
    private readonly BoundedLabel _models = new([], maxOthers: 64);

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Counter<long> _refusals;
    private readonly Counter<long> _promptTokens;
    private readonly Counter<long> _completionTokens;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _tokensPerSecond;
    private readonly UpDownCounter<long> _inFlight;

    public ApiMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        _meter = meterFactory.Create(MeterName);
        _requests = _meter.CreateCounter<long>("cocoon.api.requests", "{request}", "API requests by endpoint and HTTP status.");
        _refusals = _meter.CreateCounter<long>("cocoon.api.refusals", "{request}", "API requests refused, by reason.");
        _promptTokens = _meter.CreateCounter<long>("cocoon.api.prompt_tokens", "{token}", "Prompt tokens billed through the API.");
        _completionTokens = _meter.CreateCounter<long>("cocoon.api.completion_tokens", "{token}", "Completion tokens streamed through the API.");
        _timeToFirstToken = _meter.CreateHistogram<double>("cocoon.api.time_to_first_token", "s", "From the request arriving to the first answer text leaving the gateway.");
        _tokensPerSecond = _meter.CreateHistogram<double>("cocoon.api.tokens_per_second", "{token}/s", "Completion tokens per second of generation, per request.");
        _inFlight = _meter.CreateUpDownCounter<long>("cocoon.api.in_flight", "{request}", "Requests being answered now.");
    }

    public void Request(string endpoint, int status) =>
        _requests.Add(1,
            new KeyValuePair<string, object?>("endpoint", Endpoints.Contains(endpoint) ? endpoint : BoundedLabel.Other),
            new KeyValuePair<string, object?>("status", Statuses.Contains(status) ? status : status / 100 * 100));

    public void Refusal(string reason) => _refusals.Add(1, new KeyValuePair<string, object?>("reason", _reasons[reason]));

    public void Answered(string model, int promptTokens, int completionTokens, TimeSpan generation)
    {
        var tag = new KeyValuePair<string, object?>("model", _models[model]);
        _promptTokens.Add(promptTokens, tag);
        _completionTokens.Add(completionTokens, tag);
        if (completionTokens > 0 && generation > TimeSpan.Zero)
        {
            _tokensPerSecond.Record(completionTokens / generation.TotalSeconds, tag);
        }
    }

    public void FirstToken(string model, TimeSpan elapsed) =>
        _timeToFirstToken.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("model", _models[model]));

    public void Started() => _inFlight.Add(1);

    public void Finished() => _inFlight.Add(-1);

    public void Dispose() => _meter.Dispose();
}
