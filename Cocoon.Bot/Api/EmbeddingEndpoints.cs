using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;

namespace Cocoon.Bot.Api;

/// <summary>
/// <c>POST /v1/embeddings</c>: one <see cref="DispatchRequest"/> carrying an <see cref="EmbeddingRequest"/>, sealed to an
/// embedding worker and back exactly as a chat answer (the vectors are the job's one sealed chunk), billed per input
/// token from the worker's signed receipt, <c>usage.total_cost</c> as the ledger posted it. Errors are OpenAI-style.
/// </summary>
internal static class EmbeddingEndpoints
{
    public static async Task EmbeddingsAsync(HttpContext context, ClaimsPrincipal user, [AsParameters] CompletionServices services)
    {
        var (metrics, time) = (services.Metrics, services.Time);
        var logger = services.Loggers.CreateLogger(ApiLog.Category);
        var options = services.Options.Value;
        var requestId = CompletionEndpoints.NewRequestId();
        var started = Stopwatch.GetTimestamp();
        var gatewayStart = time.GetUtcNow();
        context.Response.Headers["X-Request-Id"] = requestId;
        context.Response.Headers["X-Cocoon-Gateway-Start"] = CompletionEndpoints.Stamp(gatewayStart);
        await ApiExchange.RunAsync(context, metrics, logger, requestId, "embeddings", async () =>
        {
            var body = await CompletionEndpoints.ReadBodyAsync(context, ApiJsonContext.Default.EmbeddingApiRequest, options.MaxRequestBodyBytes);
            var mapped = EmbeddingMapping.Map(body, options);
            var served = await services.Models.FindAsync(mapped.Model, context.RequestAborted) ?? throw ApiProblem.ModelNotFound(mapped.Model);
            if (served.Workers.Count == 0)
            {
                throw CompletionEndpoints.ModelUnavailable(served.Name);
            }

            if (served.Kind != ModelKinds.Embedding)
            {
                var mismatch = WorkerChoice.KindMismatch(served.Name, served.Kind);
                throw ApiProblem.Invalid(mismatch.Message, mismatch.Param, mismatch.Code);
            }

            if (mapped.Dimensions is { } wanted && wanted != served.Dimensions)
            {
                throw ApiProblem.Invalid(
                    string.Create(CultureInfo.InvariantCulture,
                        $"'{served.Name}' returns {served.Dimensions}-dimensional vectors and cannot shorten them to {wanted}: leave 'dimensions' out or set it to {served.Dimensions}."),
                    "dimensions", "unsupported_value");
            }

            // The worker's rule where the gateway can count exactly (token arrays): refused in the same words before
            // any hold or dispatch. Texts are counted by the worker's tokenizer only.
            if (EmbeddingRules.CheckTokenArrays(mapped.Embedding, served.ContextLength) is { } tooLong)
            {
                throw ApiProblem.Invalid(tooLong.Message, "input", "context_length_exceeded");
            }

            var dispatch = new DispatchRequest
            {
                RequestId = requestId,
                Payer = user.Payer(),
                Model = served.Name,
                Embedding = mapped.Embedding,
                MaxCoefficient = mapped.MaxCoefficient,
                Timeout = mapped.Timeout,
            };
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(mapped.Timeout + TimeSpan.FromSeconds(5));
            var answer = new StringBuilder();
            DispatchReceipt? receipt = null;
            try
            {
                await foreach (var e in services.Dispatcher.DispatchAsync(dispatch, timeout.Token))
                {
                    switch (e)
                    {
                        case DispatchPiece piece:
                            answer.Append(piece.Text);
                            break;
                        case DispatchCompleted completed:
                            receipt = completed.Receipt;
                            break;
                    }
                }
            }
            catch (Exception ex) when (ex is not ApiProblem && CompletionEndpoints.MapDispatchFailure(ex, context, logger, requestId) is { } problem)
            {
                throw problem;
            }

            if (receipt is null)
            {
                throw new InvalidOperationException("The dispatcher ended the answer without a receipt.");
            }

            var result = JsonSerializer.Deserialize(answer.ToString(), WireJsonContext.Default.EmbeddingResult)
                ?? throw new InvalidOperationException("The worker's embedding answer is empty.");
            if (result.TokenCounts.Count != mapped.Embedding.Inputs.Count || result.Vectors.Length != result.TokenCounts.Count * result.Dimensions * sizeof(float)
                || result.TokenCounts.Sum() != receipt.PromptTokens)
            {
                // The receipt verified the ciphertexts, so this is a worker that signed a malformed answer: refuse it.
                throw new ApiProblem(StatusCodes.Status502BadGateway, "The worker's answer does not match the request; nothing usable came back. Try again.", "server_error", null, "answer_malformed");
            }

            var gatewayEnd = time.GetUtcNow();
            metrics.FirstToken(served.Name, Stopwatch.GetElapsedTime(started));
            metrics.Answered(served.Name, receipt.PromptTokens, 0, receipt.WorkerEnd - receipt.WorkerStart);
            ApiLog.Answered(logger, requestId, served.Name, receipt.WorkerId, receipt.AttestationKind, receipt.PromptTokens, 0, receipt.TotalCostNanotons, "stop");
            var info = new CocoonInfo(requestId, receipt.WorkerId, receipt.ProviderId, receipt.AttestationKind,
                receipt.GatewayStart == default ? gatewayStart : receipt.GatewayStart, receipt.WorkerStart, receipt.WorkerEnd, gatewayEnd);
            new CompletionResponseWriter(context, requestId, served.Name, chat: false, 0).SetReceiptHeaders(info);
            if (result.Truncated.Count > 0)
            {
                // Which inputs were cut, by index (never their text): the caller asked for truncation and should know where it happened.
                context.Response.Headers["X-Cocoon-Truncated"] = string.Join(',', result.Truncated.Select(i => i.ToString(CultureInfo.InvariantCulture)));
            }

            await WriteAsync(context, served.Name, mapped.Base64, result, receipt, info);
            return StatusCodes.Status200OK;
        });
    }

    /// <summary>OpenAI's list of embeddings; base64 is the float32 little-endian bytes, as OpenAI encodes them.</summary>
    private static async Task WriteAsync(HttpContext context, string model, bool base64, EmbeddingResult result, DispatchReceipt receipt, CocoonInfo info)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writer.WriteString("object", "list");
            writer.WriteStartArray("data");
            var rowBytes = result.Dimensions * sizeof(float);
            for (var i = 0; i < result.TokenCounts.Count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("object", "embedding");
                writer.WriteNumber("index", i);
                var row = result.Vectors.AsMemory(i * rowBytes, rowBytes);
                if (base64)
                {
                    writer.WriteBase64String("embedding", row.Span);
                }
                else
                {
                    writer.WriteStartArray("embedding");
                    for (var j = 0; j < result.Dimensions; j++)
                    {
                        writer.WriteNumberValue(BinaryPrimitives.ReadSingleLittleEndian(row.Span[(j * sizeof(float))..]));
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
                if (writer.BytesPending > 64 * 1024)
                {
                    await writer.FlushAsync(context.RequestAborted);
                }
            }

            writer.WriteEndArray();
            writer.WriteString("model", model);
            writer.WriteStartObject("usage");
            writer.WriteNumber("prompt_tokens", receipt.PromptTokens);
            writer.WriteNumber("total_tokens", receipt.PromptTokens);
            writer.WriteNumber("total_cost", receipt.TotalCostNanotons);
            writer.WriteEndObject();
            writer.WritePropertyName("cocoon");
            JsonSerializer.Serialize(writer, info, ApiJsonContext.Default.CocoonInfo);
            writer.WriteEndObject();
            await writer.FlushAsync(context.RequestAborted);
        }
    }
}
