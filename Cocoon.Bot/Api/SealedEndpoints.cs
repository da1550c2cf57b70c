using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Hosting;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Api;

/// <summary>
/// The client-sealed path (README "Sealed by the client"): <c>POST /v1/sealed/reserve</c> fixes the HPKE binding and
/// returns the chosen worker's signed attestation with the policy this gateway applies; <c>POST
/// /v1/sealed/chat/completions</c> takes the body the client sealed to that worker and streams back the worker's sealed
/// chunks and signed receipt. The gateway sees only the routing fields (model, max_tokens, worker) and ciphertext.
/// </summary>
internal static class SealedEndpoints
{
    public static Task<IResult> ReserveAsync(
        HttpContext context, ClaimsPrincipal user, SealedRelay relay, FreshStatements statements, IOptions<DispatchOptions> dispatch, IOptions<GatewayOptions> gateway,
        ILoggerFactory loggers) =>
        ReserveForAsync(context, user.Payer(), relay, statements, dispatch, gateway, loggers);

    public static Task ChatAsync(HttpContext context, ClaimsPrincipal user, SealedRelay relay, IOptions<GatewayOptions> gateway, ILoggerFactory loggers) =>
        ChatForAsync(context, user.Payer(), relay, gateway, loggers);

    /// <summary>The reservation for any payer: the API key's account here, the Telegram user's in the Mini App.</summary>
    /// <remarks>
    /// With a <c>nonce</c> (32 random bytes as 64 hex digits) the reserved worker is challenged before the reservation
    /// is returned, and its fresh statement over that nonce comes with it: the client knows the attested worker is live
    /// now, not only that a document was once signed. A worker that gives no valid statement in time is not handed
    /// out: the reservation is released and the answer is a retryable 503 naming the worker, to exclude next time.
    /// </remarks>
    /// <param name="answerCap">The Mini App's answer limit: max_tokens defaults to it and is capped by it.</param>
    public static async Task<IResult> ReserveForAsync(
        HttpContext context, AccountId payer, SealedRelay relay, FreshStatements statements, IOptions<DispatchOptions> dispatch, IOptions<GatewayOptions> gateway,
        ILoggerFactory loggers, int? answerCap = null)
    {
        var logger = loggers.CreateLogger(ApiLog.Category);
        try
        {
            var body = await CompletionEndpoints.ReadBodyAsync(context, SealedJsonContext.Default.SealedReserveRequest, gateway.Value.MaxRequestBodyBytes);
            if (answerCap is { } cap)
            {
                body = body with { MaxTokens = body.MaxTokens <= 0 ? cap : Math.Min(body.MaxTokens, cap) };
            }

            if (body.MaxTokens <= 0)
            {
                throw ApiProblem.Invalid("'max_tokens' is required for a sealed request (the hold and the receipt check use it) and must be positive.", "max_tokens", "invalid_value");
            }

            if (body.Nonce is not null && AttestationEndpoint.NonceProblem(body.Nonce) is { } badNonce)
            {
                throw badNonce;
            }

            SealedReservation r;
            try
            {
                r = await relay.ReserveAsync(payer, body.Model, body.MaxTokens, body.ExcludeWorkers ?? [], Tiers(body.Tiers), context.RequestAborted);
            }
            catch (Exception e) when (CompletionEndpoints.MapDispatchFailure(e, context, logger, "reserve") is { } problem)
            {
                throw problem;
            }

            var doc = r.Worker.Document;
            SealedStatementView? statementView = null;
            if (body.Nonce is not null)
            {
                var fresh = await statements.AskAsync(r.Worker, Convert.FromHexString(body.Nonce), context.RequestAborted);
                if (fresh.Statement is not { } statement)
                {
                    await relay.AbandonAsync(r);
                    ApiLog.Refused(logger, "reserve", StatusCodes.Status503ServiceUnavailable, "attestation_statement_" + fresh.Error);
                    return Results.Json(
                        new SealedErrorEnvelope(new SealedError(
                            $"Worker {doc.WorkerId} gave no valid statement over your nonce ({fresh.Error}); nothing was reserved. Reserve again with exclude_workers: [\"{doc.WorkerId}\"].",
                            "server_error", "attestation_statement_" + fresh.Error, doc.WorkerId, true, null)),
                        SealedJsonContext.Default.SealedErrorEnvelope, statusCode: StatusCodes.Status503ServiceUnavailable);
                }

                statementView = new SealedStatementView(Convert.ToBase64String(statement.Statement.ToCanonicalBytes()), Convert.ToBase64String(statement.Signature));
            }

            var bundle = AttestationBundle.FromJson(Encoding.UTF8.GetString(r.AttestationBundle));
            var options = dispatch.Value;
            context.Response.Headers["X-Request-Id"] = r.RequestId;
            return Results.Json(new SealedReservationView(
                r.RequestId, r.Attempt, r.GatewayId, doc.WorkerId, doc.ModelName, doc.ModelSha256, Convert.ToHexStringLower(doc.HpkePublicKey), r.MaxTokens, r.ExpiresAt,
                r.Deadline, r.Deadline.UtcTicks.ToString(CultureInfo.InvariantCulture), r.Worker.Tier,
                new SealedAttestationView(
                    Convert.ToBase64String(bundle.Document.ToCanonicalBytes()), Convert.ToBase64String(bundle.WorkerSignature),
                    bundle.Evidence.Kind, Convert.ToBase64String(bundle.Evidence.Payload), bundle.Evidence.PlatformPublicKey is { } pk ? Convert.ToHexStringLower(pk) : null),
                new SealedPolicyView(
                    [.. options.AllowedMeasurements.Select(m => m.ToLowerInvariant())], options.AcceptAnySimulatedMeasurement,
                    options.AllowSimulated ? [.. options.TrustedSimulatedPlatformKeys.Select(k => k.ToLowerInvariant())] : [], [.. options.Models.Select(m => m.Sha256.ToLowerInvariant())], options.Models.Count == 0),
                statementView),
                SealedJsonContext.Default.SealedReservationView);
        }
        catch (ApiProblem problem)
        {
            ApiLog.Refused(logger, "reserve", problem.Status, problem.Code ?? problem.Type);
            return problem.ToResult();
        }
    }

    /// <summary>The relay for any payer (see <see cref="ReserveForAsync"/>).</summary>
    /// <param name="completed">Runs once the receipt is settled (the Mini App counts the user's usage there).</param>
    public static async Task ChatForAsync(
        HttpContext context, AccountId payer, SealedRelay relay, IOptions<GatewayOptions> gateway, ILoggerFactory loggers, Func<SealedRelayCompleted, Task>? completed = null)
    {
        var logger = loggers.CreateLogger(ApiLog.Category);
        var requestId = "sealed";
        try
        {
            var body = await CompletionEndpoints.ReadBodyAsync(context, SealedJsonContext.Default.SealedChatRequest, gateway.Value.MaxRequestBodyBytes);
            requestId = body.RequestId ?? string.Empty;
            var reservation = relay.Take(payer, requestId)
                ?? throw new ApiProblem(StatusCodes.Status404NotFound, "No open reservation with this request_id for this key (unknown, expired, another key's, or already used): POST /v1/sealed/reserve and seal again.", "invalid_request_error", "request_id", "reservation_not_found");
            byte[] enc, ciphertext;
            try
            {
                enc = Convert.FromBase64String(body.Enc ?? string.Empty);
                ciphertext = Convert.FromBase64String(body.Ciphertext ?? string.Empty);
            }
            catch (FormatException)
            {
                await relay.AbandonAsync(reservation);
                throw ApiProblem.Invalid("'enc' and 'ciphertext' must be base64.", null, "invalid_value");
            }

            if (enc.Length != 32 || ciphertext.Length <= 16)
            {
                await relay.AbandonAsync(reservation);
                throw ApiProblem.Invalid("'enc' must be the 32-byte X25519 encapsulated key and 'ciphertext' the sealed GenerationRequest.", null, "invalid_value");
            }

            // The one control MAC the gateway needs (see SealedRelay's remarks): without it the gateway could not stop
            // the worker when this client leaves, so a request without it is refused rather than left unstoppable.
            if (body.CancelMac is not { Length: 64 } cancelHex || !cancelHex.All(char.IsAsciiHexDigit))
            {
                await relay.AbandonAsync(reservation);
                throw ApiProblem.Invalid("'cancel_mac' must be the 64 hex digits of HMAC-SHA256 under the job's control key (HPKE Export(\"cocoon control v1\", 32)) over the cancel of this request, attempt and worker.", "cancel_mac", "invalid_value");
            }

            var cancelMac = Convert.FromHexString(cancelHex);

            context.Response.Headers["X-Request-Id"] = requestId;
            await using var events = relay.RelayAsync(reservation, enc, ciphertext, cancelMac, context.RequestAborted).GetAsyncEnumerator(context.RequestAborted);
            bool more;
            try
            {
                // Nothing is written before the first event, so a failure before any chunk gets a real status.
                more = await events.MoveNextAsync();
            }
            catch (SealedAttemptFailedException failed)
            {
                context.Response.StatusCode = failed.Retryable ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status400BadRequest;
                await context.Response.WriteAsJsonAsync(Failure(failed), SealedJsonContext.Default.SealedErrorEnvelope);
                return;
            }
            catch (Exception e) when (e is not ApiProblem && CompletionEndpoints.MapDispatchFailure(e, context, logger, requestId) is { } problem)
            {
                throw problem;
            }

            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            try
            {
                while (more)
                {
                    switch (events.Current)
                    {
                        case SealedRelayChunk chunk:
                            await SendAsync(context, JsonSerializer.Serialize(new SealedChunkView(chunk.Sequence, chunk.IsFinal, Convert.ToBase64String(chunk.Ciphertext)), SealedJsonContext.Default.SealedChunkView));
                            break;
                        case SealedRelayCompleted done:
                            // The receipt travels as the worker's exact JSON text, so a client can check the signature over its bytes.
                            await SendAsync(context, JsonSerializer.Serialize(new SealedDoneView(done.ReceiptJson,
                                new UsageDto(done.Receipt.PromptTokens, done.Receipt.CompletionTokens, done.Receipt.PromptTokens + done.Receipt.CompletionTokens, done.ChargedNanotons, new PromptTokensDetails(done.Receipt.CachedPromptTokens))), SealedJsonContext.Default.SealedDoneView));

                            if (completed is not null)
                            {
                                await completed(done);
                            }

                            await SendAsync(context, "[DONE]");
                            return;
                    }

                    more = await events.MoveNextAsync();
                }
            }
            catch (SealedAttemptFailedException failed) when (!context.RequestAborted.IsCancellationRequested)
            {
                // Headers are gone: the failure travels as the stream's last event; the client discards what it opened and re-seals.
                await SendAsync(context, JsonSerializer.Serialize(Failure(failed), SealedJsonContext.Default.SealedErrorEnvelope));
            }
        }
        catch (ApiProblem problem)
        {
            ApiLog.Refused(logger, requestId, problem.Status, problem.Code ?? problem.Type);
            if (!context.Response.HasStarted)
            {
                await problem.ToResult().ExecuteAsync(context);
            }
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            ApiLog.ClientGone(logger, requestId);
        }
    }

    private static SealedErrorEnvelope Failure(SealedAttemptFailedException failed) =>
        new(new SealedError(failed.Message, "sealed_attempt_failed", failed.Reason, failed.WorkerId, failed.Retryable,
            failed.WorkerMac is { } mac ? Convert.ToHexStringLower(mac) : null));

    private static IReadOnlyList<string>? Tiers(IReadOnlyList<string>? values) =>
        values is null ? null
        : Cocoon.Engine.Matching.TrustTiers.Parse(values, out var error) ?? throw ApiProblem.Invalid(error!, "tiers", "invalid_value");

    private static async Task SendAsync(HttpContext context, string data)
    {
        await context.Response.WriteAsync("data: " + data + "\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }
}

/// <param name="Nonce">Optional: 32 random bytes as 64 hex digits, for a fresh statement by the reserved worker.</param>
internal sealed record SealedReserveRequest(string? Model, int MaxTokens, IReadOnlyList<string>? ExcludeWorkers, IReadOnlyList<string>? Tiers, string? Nonce = null);

/// <param name="CancelMac">Hex of <c>JobControlKey.Cancel(request id, attempt, worker id)</c> from the client's HPKE context.</param>
internal sealed record SealedChatRequest(string? RequestId, string? Enc, string? Ciphertext, string? CancelMac);

internal sealed record SealedAttestationView(string Document, string WorkerSignature, string EvidenceKind, string EvidencePayload, string? PlatformPublicKey);

/// <summary>
/// What this gateway's directory accepts; a client checks the worker against it (and may pin its own copy). The two
/// development switches are published as they are: any simulated measurement, and any model when none is configured.
/// </summary>
internal sealed record SealedPolicyView(IReadOnlyList<string> AllowedMeasurements, bool AcceptAnySimulatedMeasurement, IReadOnlyList<string> TrustedSimulatedPlatformKeys, IReadOnlyList<string> ServedModelHashes,
    bool AcceptAnyModel);

/// <param name="DeadlineTicks">
/// The deadline the HPKE info binds (wire v2), as the decimal UTC ticks (100 ns since 0001-01-01) the info encodes as a
/// big-endian i64: exact, where the ISO time would need a client to convert. Always a whole millisecond.
/// </param>
internal sealed record SealedReservationView(
    string RequestId, int Attempt, string ReplyTo, string WorkerId, string Model, string ModelSha256, string HpkePublicKey, int MaxTokens, DateTimeOffset ExpiresAt,
    DateTimeOffset Deadline, string DeadlineTicks, string Tier, SealedAttestationView Attestation, SealedPolicyView Policy, SealedStatementView? Statement);

/// <summary>
/// The reserved worker's statement over the client's nonce: <see cref="AttestationStatement"/>'s canonical bytes and
/// the Ed25519 signature by the document's signing key over <see cref="AttestationStatement.SignedPrefix"/> || those bytes.
/// </summary>
internal sealed record SealedStatementView(string Canonical, string Signature);

internal sealed record SealedChunkView(long Sequence, bool Final, string Ciphertext);

internal sealed record SealedDoneView(string ReceiptJson, UsageDto Usage);

/// <param name="WorkerMac">On a worker's refusal, its MAC (hex) under the job's control key: the client checks it, the gateway cannot.</param>
internal sealed record SealedError(string Message, string Type, string Code, string WorkerId, bool Retryable, string? WorkerMac);

internal sealed record SealedErrorEnvelope(SealedError Error);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(SealedReserveRequest))]
[JsonSerializable(typeof(SealedChatRequest))]
[JsonSerializable(typeof(SealedReservationView))]
[JsonSerializable(typeof(SealedChunkView))]
[JsonSerializable(typeof(SealedDoneView))]
[JsonSerializable(typeof(SealedErrorEnvelope))]
internal sealed partial class SealedJsonContext : JsonSerializerContext;
