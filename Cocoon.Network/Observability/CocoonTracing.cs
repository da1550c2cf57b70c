using System.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Cocoon.Network.Observability;

/// <summary>
/// Traces of one request across gateway and worker. The gateway's attempt span travels to the worker as a W3C
/// <c>traceparent</c> in the job envelope's plaintext routing part (<see cref="Engine.Protocol.JobEnvelope.TraceParent"/>),
/// so the worker's job span joins the same trace. Spans carry ids, model, worker and outcome: never a prompt, a reply
/// or a user. Spans are exported with OTLP only when an endpoint is configured; otherwise no listener exists and
/// starting a span costs a null check.
/// </summary>
public static class CocoonTracing
{
    public const string GatewaySource = "Cocoon.Gateway";
    public const string WorkerSource = "Cocoon.Worker";

    /// <summary>Where spans go: an OTLP/HTTP endpoint such as http://collector:4318 (also read from OTEL_EXPORTER_OTLP_ENDPOINT).</summary>
    public const string EndpointSetting = "Telemetry:OtlpEndpoint";

    public static ActivitySource Gateway { get; } = new(GatewaySource);

    public static ActivitySource Worker { get; } = new(WorkerSource);

    /// <summary>
    /// Exports this process's spans with OTLP when <see cref="EndpointSetting"/> or OTEL_EXPORTER_OTLP_ENDPOINT is set;
    /// a malformed endpoint stops the start with a message naming the setting.
    /// </summary>
    public static IServiceCollection AddCocoonTracing(
        this IServiceCollection services, IConfiguration configuration, string serviceName, Action<TracerProviderBuilder>? instrument = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var endpoint = Endpoint(configuration);
        if (endpoint is null)
        {
            return services;
        }

        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithTracing(tracing =>
            {
                tracing.AddSource(GatewaySource, WorkerSource);
                instrument?.Invoke(tracing);
                tracing.AddOtlpExporter(o =>
                {
                    o.Protocol = OtlpExportProtocol.HttpProtobuf;
                    o.Endpoint = new Uri(endpoint, "v1/traces");
                });
            });
        return services;
    }

    /// <summary>The configured collector's base URL, or null when tracing is off.</summary>
    public static Uri? Endpoint(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var text = configuration[EndpointSetting] is { Length: > 0 } configured ? configured : configuration["OTEL_EXPORTER_OTLP_ENDPOINT"];
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        if (!Uri.TryCreate(text.TrimEnd('/') + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new InvalidOperationException(
                $"{EndpointSetting} (or OTEL_EXPORTER_OTLP_ENDPOINT) must be the http(s) URL of an OTLP/HTTP collector such as http://127.0.0.1:4318, not '{text}'.");
        }

        return uri;
    }

    /// <summary>The current span as a W3C traceparent for a job envelope, or null when there is none.</summary>
    public static string? CurrentTraceParent() =>
        Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>
    /// The parent a job's span joins. The traceparent is not authenticated (anyone with Redis access could change it),
    /// so a malformed one is ignored and a forged one can only misfile a trace, never change what the job does.
    /// </summary>
    public static ActivityContext ParentOf(string? traceParent) =>
        traceParent is { Length: > 0 and <= 128 } && ActivityContext.TryParse(traceParent, null, isRemote: true, out var parent)
            ? parent
            : default;
}
