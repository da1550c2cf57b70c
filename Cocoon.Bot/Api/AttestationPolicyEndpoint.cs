using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Api;

/// <summary>
/// <c>GET /v1/attestation/policy</c> (public): the rules the gateway verifies workers' attestation documents under —
/// trusted platform keys, allowed measurements, served model hashes — so a client checks a receipt's worker itself.
/// </summary>
internal static class AttestationPolicyEndpoint
{
    public static PublishedPolicy Policy(DispatchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new PublishedPolicy(
            new AttestationPolicy
            {
                AllowedMeasurements = options.AllowedMeasurements,
                ServedModelHashes = [.. options.Models.Select(m => m.Sha256.ToLowerInvariant())],
                TrustedSimulatedPlatformKeys = options.TrustedSimulatedPlatformKeys,
                AllowSimulated = options.TrustedSimulatedPlatformKeys.Count > 0,
                AcceptUnverifiedTdxQuotes = options.AcceptUnverifiedTdxQuotes,
                AllowedTdxMrTd = options.AllowedTdxMrTd,
                MaxAge = options.MaxAttestationAge,
            },
            options.AcceptAnySimulatedMeasurement);
    }

    public static IResult Get(IOptions<DispatchOptions> options) =>
        Results.Content(Policy(options.Value).ToJson().ToJsonString(), "application/json");
}
