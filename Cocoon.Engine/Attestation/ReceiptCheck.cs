using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Cocoon.Engine.Attestation;

/// <summary>One check of a receipt: its name, whether it passed, and why (the reason a person reads).</summary>
public sealed record ReceiptCheckResult(string Name, bool Ok, string Detail);

/// <summary>
/// The attestation policy as the gateway publishes it (<c>GET /v1/attestation/policy</c>), so a client checks a worker's
/// document under the same rules the gateway applied. <see cref="AcceptAnySimulatedMeasurement"/> is the local
/// development switch: a simulated document with any measurement passes, and the verifier says so.
/// </summary>
public sealed record PublishedPolicy(AttestationPolicy Policy, bool AcceptAnySimulatedMeasurement)
{
    public JsonObject ToJson() => new()
    {
        ["object"] = "cocoon.attestation_policy",
        ["allowed_measurements"] = Array(Policy.AllowedMeasurements),
        ["accept_any_simulated_measurement"] = AcceptAnySimulatedMeasurement,
        ["served_model_sha256"] = Array(Policy.ServedModelHashes),
        ["trusted_simulated_platform_keys"] = Array(Policy.TrustedSimulatedPlatformKeys),
        ["allow_simulated"] = Policy.AllowSimulated,
        ["accept_unverified_tdx_quotes"] = Policy.AcceptUnverifiedTdxQuotes,
        ["allowed_tdx_mrtd"] = Array(Policy.AllowedTdxMrTd),
        ["max_age_seconds"] = (long)Policy.MaxAge.TotalSeconds,
    };

    public static PublishedPolicy FromJson(JsonNode json)
    {
        ArgumentNullException.ThrowIfNull(json);
        string[] List(string name) => json[name] is JsonArray a ? [.. a.Select(x => x!.GetValue<string>())] : [];
        return new PublishedPolicy(
            new AttestationPolicy
            {
                AllowedMeasurements = List("allowed_measurements"),
                ServedModelHashes = List("served_model_sha256"),
                TrustedSimulatedPlatformKeys = List("trusted_simulated_platform_keys"),
                AllowSimulated = json["allow_simulated"]?.GetValue<bool>() ?? false,
                AcceptUnverifiedTdxQuotes = json["accept_unverified_tdx_quotes"]?.GetValue<bool>() ?? false,
                AllowedTdxMrTd = List("allowed_tdx_mrtd"),
                MaxAge = TimeSpan.FromSeconds(json["max_age_seconds"]?.GetValue<long>() ?? 3600),
            },
            json["accept_any_simulated_measurement"]?.GetValue<bool>() ?? false);
    }

    private static JsonArray Array(IEnumerable<string> values) => new([.. values.Select(v => (JsonNode?)JsonValue.Create(v))]);
}

/// <summary>
/// Checks a receipt document (<c>GET /v1/receipts/{id}</c>) from outside the gateway's trust: the worker's Ed25519
/// signature over the exact canonical bytes, that the signing key is in an attestation document that verifies under
/// the published policy (as of the time the worker signed, since documents expire and receipts are checked later),
/// that the request and response hashes are the caller's own bytes, and that the receipt's Merkle leaf is included
/// under the root read from the chain. Pure: the caller fetches the document, the policy and the root.
/// </summary>
public static class ReceiptCheck
{
    public const string Signature = "signature";
    public const string Attestation = "attestation";
    public const string RequestHash = "request-hash";
    public const string ResponseHash = "response-hash";
    public const string Inclusion = "inclusion";

    /// <param name="chainRoot">The root read from the anchor's chain transaction; null when there is none to read.</param>
    public static IReadOnlyList<ReceiptCheckResult> Run(JsonObject document, PublishedPolicy policy, byte[]? canonicalRequest, string? answer, byte[]? chainRoot)
    {
        ArgumentNullException.ThrowIfNull(document);
        ArgumentNullException.ThrowIfNull(policy);
        var results = new List<ReceiptCheckResult>();
        byte[] canonical, signature;
        UsageReceipt? receipt;
        try
        {
            canonical = Convert.FromBase64String(document["receipt_canonical"]!.GetValue<string>());
            signature = Convert.FromBase64String(document["signature"]!.GetValue<string>());
            receipt = JsonSerializer.Deserialize(canonical, AttestationJson.Default.UsageReceipt);
        }
        catch (Exception e) when (e is FormatException or JsonException or NullReferenceException or InvalidOperationException)
        {
            return [new ReceiptCheckResult(Signature, false, "the document has no readable receipt_canonical/signature: " + e.Message)];
        }

        if (receipt is null || !receipt.ToCanonicalBytes().AsSpan().SequenceEqual(canonical))
        {
            return [new ReceiptCheckResult(Signature, false, "receipt_canonical is not a receipt in canonical form")];
        }

        AttestationBundle? bundle = null;
        try
        {
            bundle = document["attestation"] is JsonObject a ? AttestationBundle.FromJson(a.ToJsonString()) : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // Reported below as a missing document.
        }

        var signed = new SignedUsageReceipt(receipt, signature);
        results.Add(bundle is null
            ? new ReceiptCheckResult(Signature, false, "no attestation document to take the worker's key from")
            : signed.Verify(bundle.Document.SigningPublicKey)
                ? new ReceiptCheckResult(Signature, true, $"Ed25519 signature by worker {receipt.WorkerId}'s attested key {Convert.ToHexStringLower(bundle.Document.SigningPublicKey)[..16]}…")
                : new ReceiptCheckResult(Signature, false, "the signature does not verify under the signing key of the attested document (a foreign key, or altered bytes)"));
        results.Add(CheckAttestation(bundle, receipt, policy));
        results.Add(HashCheck(RequestHash, "request", canonicalRequest, receipt.RequestSha256));
        results.Add(HashCheck(ResponseHash, "answer", answer is null ? null : Encoding.UTF8.GetBytes(answer), receipt.ResponseSha256));
        results.Add(CheckInclusion(document, canonical, signature, chainRoot));
        return results;
    }

    private static ReceiptCheckResult CheckAttestation(AttestationBundle? bundle, UsageReceipt receipt, PublishedPolicy policy)
    {
        if (bundle is null)
        {
            return new ReceiptCheckResult(Attestation, false, "the receipt carries no attestation document");
        }

        var doc = bundle.Document;
        if (doc.WorkerId != receipt.WorkerId || !string.Equals(doc.ModelSha256, receipt.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            return new ReceiptCheckResult(Attestation, false, $"the document is worker {doc.WorkerId}'s for model {doc.ModelSha256}, the receipt names {receipt.WorkerId} and {receipt.ModelSha256}");
        }

        // Judged at the moment the worker signed: the document has to have been valid then, not now.
        var verdict = new AttestationVerifier(policy.Policy, new FixedClock(receipt.WorkerStartedAt)).Verify(bundle);
        if (verdict.Accepted)
        {
            return new ReceiptCheckResult(Attestation, true, $"{doc.TeeKind} document for measurement {doc.Measurement[..Math.Min(16, doc.Measurement.Length)]}…, model {doc.ModelSha256[..Math.Min(16, doc.ModelSha256.Length)]}…, verifies under the policy");
        }

        // The gateway's two development switches, published with the policy, override only these last two checks.
        var served = policy.Policy.ServedModelHashes;
        var overridable = (verdict.Refusal == AttestationRefusal.UnknownMeasurement && verdict.IsSimulated && policy.AcceptAnySimulatedMeasurement)
            || (verdict.Refusal == AttestationRefusal.UnknownModel && served.Count == 0);
        if (overridable && (served.Count == 0 || served.Contains(doc.ModelSha256, StringComparer.OrdinalIgnoreCase)))
        {
            return new ReceiptCheckResult(Attestation, true, $"{doc.TeeKind} document verifies under the policy, which is in development mode ({verdict.Refusal} waived: {verdict.Detail}); no hardware guarantee");
        }

        return new ReceiptCheckResult(Attestation, false, $"{verdict.Refusal}: {verdict.Detail}");
    }

    private static ReceiptCheckResult HashCheck(string name, string what, byte[]? mine, byte[] signedHash)
    {
        if (mine is null)
        {
            return new ReceiptCheckResult(name, false, $"no saved {what} to compare (ask saves it when it runs)");
        }

        var hash = SHA256.HashData(mine);
        return CryptographicOperations.FixedTimeEquals(hash, signedHash)
            ? new ReceiptCheckResult(name, true, $"SHA-256 of the saved {what} matches the signed hash {Convert.ToHexStringLower(hash)[..16]}…")
            : new ReceiptCheckResult(name, false, $"SHA-256 of the saved {what} is {Convert.ToHexStringLower(hash)[..16]}…, the receipt signed {Convert.ToHexStringLower(signedHash)[..16]}…");
    }

    private static ReceiptCheckResult CheckInclusion(JsonObject document, byte[] canonical, byte[] signature, byte[]? chainRoot)
    {
        if (document["anchor"] is not JsonObject anchor)
        {
            return new ReceiptCheckResult(Inclusion, false, "not anchored yet (the next anchoring period commits it)");
        }

        if (chainRoot is null)
        {
            return new ReceiptCheckResult(Inclusion, false, "no root could be read from the chain transaction");
        }

        var leaf = ReceiptMerkle.Leaf(canonical, signature);
        List<MerkleStep> proof;
        try
        {
            proof = [.. anchor["proof"]!.AsArray().Select(s => new MerkleStep(s!["side"]!.GetValue<string>() == "left", Convert.FromHexString(s["hash"]!.GetValue<string>())))];
        }
        catch (Exception e) when (e is FormatException or NullReferenceException or InvalidOperationException)
        {
            return new ReceiptCheckResult(Inclusion, false, "the proof is malformed: " + e.Message);
        }

        var rootHex = Convert.ToHexStringLower(chainRoot);
        return ReceiptMerkle.Verify(leaf, proof, chainRoot)
            ? new ReceiptCheckResult(Inclusion, true, string.Create(CultureInfo.InvariantCulture, $"leaf {anchor["leaf_index"]} of {anchor["leaf_count"]} is under root {rootHex[..16]}… read from the chain"))
            : new ReceiptCheckResult(Inclusion, false, $"the proof does not lead to the chain's root {rootHex[..16]}…");
    }

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}
