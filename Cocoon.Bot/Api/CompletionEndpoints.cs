using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Hosting;
using Cocoon.Bot.Observability;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Api;

/// <summary>What a completion endpoint needs from the container, bound as one parameter.</summary>
internal sealed record CompletionServices(
    ApiMetrics Metrics, ServedModels Models, IDispatcher Dispatcher, TimeProvider Time, IOptions<GatewayOptions> Options, ILoggerFactory Loggers);

/// <summary>
/// <c>POST /v1/chat/completions</c> and <c>POST /v1/completions</c>. Every request becomes one
/// <see cref="DispatchRequest"/>; every failure becomes an OpenAI-style error object with the right status. A streamed
/// response starts only after the dispatcher produced its first event, so funds, busy workers and unknown models still
/// get a real status code. The body is read here rather than bound: its size limit, media type and JSON errors each
/// have their own OpenAI-style answer.
/// </summary>
internal static class CompletionEndpoints
{
    public static Task ChatCompletionsAsync(HttpContext context, ClaimsPrincipal user, [AsParameters] CompletionServices services) =>
        HandleAsync(context, user.Payer(), services, "chat.completions", ApiJsonContext.Default.ChatCompletionRequest, RequestMapping.Map, chat: true);

    public static Task CompletionsAsync(HttpContext context, ClaimsPrincipal user, [AsParameters] CompletionServices services) =>
        HandleAsync(context, user.Payer(), services, "completions", ApiJsonContext.Default.CompletionRequest, RequestMapping.Map, chat: false);

    private static async Task HandleAsync<TRequest>(
        HttpContext context, AccountId payer, CompletionServices services, string endpoint, JsonTypeInfo<TRequest> typeInfo, Func<TRequest, GatewayOptions, MappedRequest> map, bool chat)
        where TRequest : class
    {
        var (metrics, time) = (services.Metrics, services.Time);
        var logger = services.Loggers.CreateLogger(ApiLog.Category);
        var options = services.Options.Value;
        var requestId = NewRequestId();
        var started = Stopwatch.GetTimestamp();
        var gatewayStart = time.GetUtcNow();
        context.Response.Headers["X-Request-Id"] = requestId;
        // The receipt id is the request id: GET /v1/receipts/{id} returns the worker's signed receipt to this key's payer.
        context.Response.Headers["X-Cocoon-Receipt-Id"] = requestId;
        context.Response.Headers["X-Cocoon-Gateway-Start"] = Stamp(gatewayStart);
        await ApiExchange.RunAsync(context, metrics, logger, requestId, endpoint, async () =>
        {
            var body = await ReadBodyAsync(context, typeInfo, options.MaxRequestBodyBytes);
            var mapped = map(body, options);
            var served = await services.Models.FindAsync(mapped.Model, context.RequestAborted)
                ?? throw ApiProblem.ModelNotFound(mapped.Model);
            if (served.Workers.Count == 0)
            {
                throw ModelUnavailable(served.Name);
            }

            if (served.Kind != ModelKinds.Chat)
            {
                var mismatch = WorkerChoice.KindMismatch(served.Name, served.Kind);
                throw ApiProblem.Invalid(mismatch.Message, mismatch.Param, mismatch.Code);
            }

            var dispatch = new DispatchRequest
            {
                RequestId = requestId,
                Payer = payer,
                Model = served.Name,
                Generation = mapped.Generation,
                MaxCoefficient = mapped.MaxCoefficient,
                Timeout = mapped.Timeout,
                Conversation = mapped.Conversation,
                Tiers = mapped.Tiers,
                SlaClass = mapped.SlaClass,
                ReputationFloor = mapped.ReputationFloor,
            };
            var writer = new CompletionResponseWriter(context, requestId, served.Name, chat, time.GetUtcNow().ToUnixTimeSeconds());
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(mapped.Timeout + TimeSpan.FromSeconds(5));
            await using var events = services.Dispatcher.DispatchAsync(dispatch, timeout.Token).GetAsyncEnumerator(timeout.Token);

            // The first event decides the status: until it arrives nothing has been written.
            bool more;
            try
            {
                more = await events.MoveNextAsync();
            }
            catch (Exception ex) when (ex is not ApiProblem && MapDispatchFailure(ex, context, logger, requestId) is { } problem)
            {
                throw problem;
            }

            var answered = false;
            var text = chat && !mapped.Stream ? new StringBuilder() : null;
            var completion = !chat && !mapped.Stream ? new StringBuilder() : null;
            if (mapped.Stream)
            {
                await writer.StartStreamAsync();
            }

            try
            {
                while (more)
                {
                    switch (events.Current)
                    {
                        case DispatchPiece piece when piece.Text.Length > 0:
                            if (!answered)
                            {
                                answered = true;
                                metrics.FirstToken(served.Name, Stopwatch.GetElapsedTime(started));
                            }

                            if (mapped.Stream)
                            {
                                await writer.PieceAsync(piece.Text);
                            }
                            else
                            {
                                (text ?? completion)!.Append(piece.Text);
                            }

                            break;
                        case DispatchCompleted completed:
                            var receipt = completed.Receipt;
                            var gatewayEnd = time.GetUtcNow();
                            var info = new CocoonInfo(requestId, receipt.WorkerId, receipt.ProviderId, receipt.AttestationKind,
                                receipt.GatewayStart == default ? gatewayStart : receipt.GatewayStart, receipt.WorkerStart, receipt.WorkerEnd, gatewayEnd)
                            {
                                Tier = receipt.Tier,
                                ReceiptId = requestId,
                                RequestSha256 = receipt.RequestSha256,
                                ResponseSha256 = receipt.ResponseSha256,
                                CanonicalRequest = Convert.ToBase64String(receipt.SealedRequest ?? Engine.Attestation.ReceiptHashes.CanonicalRequest(mapped.Generation)),
                                ResumedAfterBytes = receipt.Resumed ? receipt.ResumedAfterBytes : null,
                            };
                            var usage = new UsageDto(receipt.PromptTokens, receipt.CompletionTokens, receipt.PromptTokens + receipt.CompletionTokens, receipt.TotalCostNanotons,
                                new PromptTokensDetails(receipt.CachedPromptTokens), receipt.SlaRefundNanotons);
                            metrics.Answered(served.Name, receipt.PromptTokens, receipt.CompletionTokens, receipt.WorkerEnd - receipt.WorkerStart);
                            ApiLog.Answered(logger, requestId, served.Name, receipt.WorkerId, receipt.AttestationKind, receipt.PromptTokens, receipt.CompletionTokens, receipt.TotalCostNanotons, Finish(receipt.FinishReason));
                            if (mapped.Stream)
                            {
                                await writer.FinishStreamAsync(Finish(receipt.FinishReason), usage, info, mapped.IncludeUsage);
                            }
                            else
                            {
                                writer.SetReceiptHeaders(info);
                                await writer.WriteWholeAsync((text ?? completion)!.ToString(), Finish(receipt.FinishReason), usage, info);
                            }

                            return StatusCodes.Status200OK;
                    }

                    more = await events.MoveNextAsync();
                }

                throw new InvalidOperationException("The dispatcher ended the answer without a receipt.");
            }
            catch (Exception ex) when (mapped.Stream && !context.RequestAborted.IsCancellationRequested)
            {
                // Headers are gone: the only honest signal left is an error event in the stream (as OpenAI sends).
                var problem = MapDispatchFailure(ex, context, logger, requestId) ?? new ApiProblem(StatusCodes.Status502BadGateway, "The answer was interrupted.", "server_error", null, "interrupted");
                ApiLog.StreamFailed(logger, requestId, problem.Code, ex);
                await writer.StreamErrorAsync(problem);
                return problem.Status;
            }
            catch (Exception ex) when (!mapped.Stream && ex is not ApiProblem && MapDispatchFailure(ex, context, logger, requestId) is { } problem)
            {
                throw problem;
            }
        });
    }

    /// <summary>Reads at most the configured number of bytes; larger bodies get 413 before they are buffered.</summary>
    internal static async Task<T> ReadBodyAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, int limit)
        where T : class
    {
        var request = context.Request;
        if (request.ContentLength > limit)
        {
            throw ApiProblem.TooLarge(limit);
        }

        if (request.ContentType is { } type && !type.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            throw new ApiProblem(StatusCodes.Status415UnsupportedMediaType, "Send the request body as application/json.", "invalid_request_error", null, "unsupported_media_type");
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        var buffer = new ArrayBufferWriter<byte>(Math.Min(limit, 16 * 1024));
        try
        {
            while (true)
            {
                var memory = buffer.GetMemory(4096);
                var read = await request.Body.ReadAsync(memory, context.RequestAborted);
                if (read == 0)
                {
                    break;
                }

                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    throw ApiProblem.TooLarge(limit);
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw ApiProblem.TooLarge(limit);
        }
        catch (Exception ex) when (ex is BadHttpRequestException or IOException or InvalidDataException && !context.RequestAborted.IsCancellationRequested)
        {
            // A malformed framing (e.g. a chunk size that overflows: Kestrel throws IOException "Bad chunk size data",
            // not BadHttpRequestException) is the client's fault, whatever type the server's parser reports it with.
            throw ApiProblem.Invalid("The request body could not be read (malformed chunked encoding or framing).", null, "invalid_body");
        }

        if (buffer.WrittenCount == 0)
        {
            throw ApiProblem.Invalid("The request body is empty; send a JSON object.", null, "invalid_json");
        }

        try
        {
            return JsonSerializer.Deserialize(buffer.WrittenSpan, typeInfo)
                ?? throw ApiProblem.Invalid("The request body must be a JSON object.", null, "invalid_json");
        }
        catch (JsonException ex)
        {
            throw ApiProblem.FromJson(ex);
        }
    }

    /// <summary>Maps what the dispatcher throws onto API errors; null means "not ours to translate".</summary>
    internal static ApiProblem? MapDispatchFailure(Exception exception, HttpContext context, ILogger logger, string requestId)
    {
        switch (exception)
        {
            case ApiProblem problem:
                return problem;
            case WorkersBusyException busy:
                var seconds = Math.Max(1, (int)Math.Ceiling(busy.RetryAfter.TotalSeconds));
                if (!context.Response.HasStarted)
                {
                    context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                }

                return new ApiProblem(StatusCodes.Status429TooManyRequests, $"Every worker for this model is busy; retry after {seconds} s.", "rate_limit_error", null, "workers_busy") { RetryAfterSeconds = seconds };
            case ModelUnavailableException unavailable:
                return ModelUnavailable(unavailable.Model);
            case DispatchFailedException { Reason: "invalid-request" } invalid:
                // The worker's inference service refused the request (e.g. the prompt exceeds the model's context).
                return ApiProblem.Invalid(invalid.Message, null, "invalid_request");
            case DispatchFailedException failed:
                ApiLog.DispatchFailed(logger, requestId, failed);
                return new ApiProblem(StatusCodes.Status502BadGateway, "No worker could complete the answer; nothing was charged. Try again.", "server_error", null, failed.Reason.Replace('-', '_'));
            case InsufficientFundsException funds:
                return new ApiProblem(StatusCodes.Status402PaymentRequired,
                    $"Insufficient funds: this request may cost up to {funds.Needed} nanotons and the balance is {funds.Available}. Top up with the bot's /topup, or lower max_tokens.",
                    "insufficient_quota", null, "insufficient_funds");
            case OperationCanceledException when context.RequestAborted.IsCancellationRequested:
                return null;
            case TimeoutException or OperationCanceledException:
                return new ApiProblem(StatusCodes.Status504GatewayTimeout, "No worker finished the answer within the timeout; retry, or raise 'timeout'.", "timeout_error", "timeout", "timeout");
            case ArgumentException argument:
                // The dispatcher validates limits that depend on the model (context length): its message names them.
                return ApiProblem.Invalid(argument.Message, argument.ParamName, "invalid_value");
            default:
                ApiLog.DispatchFailed(logger, requestId, exception);
                return new ApiProblem(StatusCodes.Status502BadGateway, "No worker could answer; try again.", "server_error", null, "dispatch_failed");
        }
    }

    internal static ApiProblem ModelUnavailable(string model) =>
        new(StatusCodes.Status503ServiceUnavailable, $"No attested worker serves '{model}' right now; retry shortly.", "server_error", "model", "model_unavailable") { RetryAfterSeconds = 5 };

    internal static string NewRequestId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    internal static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Finish(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length or FinishReason.ContextFull => "length",
        _ => "stop",
    };
}
