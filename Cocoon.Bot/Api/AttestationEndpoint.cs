using System.Text.Json.Nodes;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Observability;
using Cocoon.Engine.Attestation;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Api;

/// <summary>
/// <c>GET /v1/attestation?model=M&amp;nonce=N</c>: for each attested worker serving M, its attestation bundle as the
/// gateway verified it and a fresh statement the worker signed just now over the client's nonce (N: 32 random bytes,
/// 64 hex digits) with the signing key the bundle attests, plus the policy the network verifies workers under and the
/// model's SHA-256. The gateway only relays the nonce and the answer: it cannot sign for a worker, so a client that
/// checks the signature under the attested key knows the worker answered its nonce, whatever the gateway is. Needs
/// an API key, as every challenge costs each worker serving M a signature and a write.
/// </summary>
internal static class AttestationEndpoint
{
    public static async Task<IResult> GetAsync(
        string? model, string? nonce, ServedModels models, WorkerDirectory directory, FreshStatements statements, IOptions<DispatchOptions> options,
        ApiMetrics metrics, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(model))
        {
            return Refuse(metrics, ApiProblem.Invalid("The query parameter 'model' is required: a model name (or its GGUF SHA-256) from GET /v1/models.", "model", "missing_model"));
        }

        if (NonceProblem(nonce) is { } badNonce)
        {
            return Refuse(metrics, badNonce);
        }

        var served = await models.FindAsync(model, cancellationToken);
        if (served is null)
        {
            return Refuse(metrics, ApiProblem.ModelNotFound(model));
        }

        var nonceBytes = Convert.FromHexString(nonce!);
        var workers = directory.Eligible
            .Where(w => string.Equals(w.Document.ModelSha256, served.Sha256, StringComparison.OrdinalIgnoreCase))
            .ToList();
        var answers = await Task.WhenAll(workers.Select(w => AskAsync(w, nonceBytes, statements, cancellationToken)));

        var list = new JsonArray();
        foreach (var answer in answers)
        {
            list.Add(answer);
        }

        var body = new JsonObject
        {
            ["object"] = "cocoon.attestation",
            ["model"] = served.Name,
            ["model_sha256"] = served.Sha256.ToLowerInvariant(),
            ["nonce"] = nonce!.ToLowerInvariant(),
            ["statement_signed_prefix"] = AttestationStatement.SignedPrefix,
            ["policy"] = AttestationPolicyEndpoint.Policy(options.Value).ToJson(),
            ["workers"] = list,
        };
        metrics.Request("attestation", StatusCodes.Status200OK);
        return Results.Content(body.ToJsonString(), "application/json");
    }

    private static ApiProblemResult Refuse(ApiMetrics metrics, ApiProblem problem)
    {
        metrics.Request("attestation", problem.Status);
        return problem.ToResult();
    }

    /// <summary>Why <paramref name="nonce"/> is not a client nonce (32 random bytes as 64 hex digits), or null when it is.</summary>
    internal static ApiProblem? NonceProblem(string? nonce) =>
        nonce is { Length: AttestationStatement.NonceSize * 2 } && IsHex(nonce)
            ? null
            : ApiProblem.Invalid(
                $"The 'nonce' must be {AttestationStatement.NonceSize} random bytes written as {AttestationStatement.NonceSize * 2} hex digits"
                + (nonce is null ? "; it is missing." : $"; got {Math.Min(nonce.Length, 10_000)} characters{(IsHex(nonce) ? string.Empty : ", not all hex digits")}."),
                "nonce", "invalid_nonce");

    private static readonly System.Buffers.SearchValues<char> HexDigits = System.Buffers.SearchValues.Create("0123456789abcdefABCDEF");

    private static bool IsHex(string text) => !text.AsSpan().ContainsAnyExcept(HexDigits);

    /// <summary>One worker's entry: its bundle and the statement it signed for this nonce, or why there is none.</summary>
    private static async Task<JsonObject> AskAsync(EligibleWorker worker, byte[] nonce, FreshStatements statements, CancellationToken cancellationToken)
    {
        var doc = worker.Document;
        var entry = new JsonObject
        {
            ["worker_id"] = doc.WorkerId,
            ["provider_id"] = worker.ProviderId,
            ["tier"] = worker.Tier,
            ["tee_kind"] = doc.TeeKind,
            ["attestation"] = worker.Bundle is { } bundle ? JsonNode.Parse(bundle.ToJson()) : null,
        };

        var (statement, error) = await statements.AskAsync(worker, nonce, cancellationToken);
        if (statement is null)
        {
            entry["statement"] = null;
            entry["error"] = error;
            return entry;
        }

        var canonical = statement.Statement.ToCanonicalBytes();
        entry["statement"] = JsonNode.Parse(canonical);
        entry["statement_canonical"] = Convert.ToBase64String(canonical);
        entry["signature"] = Convert.ToBase64String(statement.Signature);
        return entry;
    }
}
