using System.Buffers;
using System.Diagnostics;
using System.Globalization;
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

/// <summary>
/// The OpenAI-compatible API under <c>/v1</c>. Every request becomes one <see cref="DispatchRequest"/>; every failure
/// becomes an OpenAI-style error object with the right status. A streamed response starts only after the dispatcher
/// produced its first event, so funds, busy workers and unknown models still get a real status code.
/// </summary>
internal static class OpenAiApi
{
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        var v1 = app.MapGroup("/v1");
        v1.MapPost("/chat/completions", ChatCompletionsAsync);
        v1.MapPost("/completions", CompletionsAsync);
        v1.MapGet("/models", ModelsAsync);
        // Unknown /v1 paths answer in the API's own error format rather than an empty 404.
        v1.Map("/{**rest}", (HttpContext context) => WriteProblemAsync(context, new ApiProblem(
            StatusCodes.Status404NotFound, $"Unknown endpoint {context.Request.Method} {context.Request.Path}.", "invalid_request_error", null, "unknown_url")));
        return app;
    }

    private static Task ChatCompletionsAsync(HttpContext context) =>
        HandleAsync(context, "chat.completions", ApiJsonContext.Default.ChatCompletionRequest, RequestMapping.Map, chat: true);

    private static Task CompletionsAsync(HttpContext context) =>
        HandleAsync(context, "completions", ApiJsonContext.Default.CompletionRequest, RequestMapping.Map, chat: false);

    private static async Task ModelsAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var metrics = services.GetRequiredService<ApiMetrics>();
        try
        {
            await AuthenticateAsync(context);
            var models = await services.GetRequiredService<ServedModels>().RefreshAsync(context.RequestAborted);
            var list = new ModelList("list", models.Select(m => new ModelDto(
                m.Name, "model", 0, "cocoon", m.Sha256,
                m.Workers.Select(w => new ModelWorkerDto(w.WorkerId, w.ProviderId, w.PriceCoefficient, w.Running, w.MaxConcurrency, w.AttestationKind)).ToList())).ToList());
            metrics.Request("models", StatusCodes.Status200OK);
            await context.Response.WriteAsJsonAsync(list, ApiJsonContext.Default.ModelList, cancellationToken: context.RequestAborted);
        }
        catch (ApiProblem problem)
        {
            metrics.Request("models", problem.Status);
            metrics.Refusal(problem.Code ?? problem.Type);
            await WriteProblemAsync(context, problem);
        }
    }

    private static async Task HandleAsync<TRequest>(
        HttpContext context, string endpoint, JsonTypeInfo<TRequest> typeInfo, Func<TRequest, GatewayOptions, MappedRequest> map, bool chat)
        where TRequest : class
    {
        var services = context.RequestServices;
        var metrics = services.GetRequiredService<ApiMetrics>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Cocoon.Bot.Api");
        var time = services.GetRequiredService<TimeProvider>();
        var options = services.GetRequiredService<IOptions<GatewayOptions>>().Value;
        var requestId = NewRequestId();
        var started = Stopwatch.GetTimestamp();
        var gatewayStart = time.GetUtcNow();
        context.Response.Headers["X-Request-Id"] = requestId;
        context.Response.Headers["X-Cocoon-Gateway-Start"] = Stamp(gatewayStart);
        metrics.Started();
        var status = StatusCodes.Status200OK;
        try
        {
            var payer = await AuthenticateAsync(context);
            var body = await ReadBodyAsync(context, typeInfo, options.MaxRequestBodyBytes);
            var mapped = map(body, options);
            var served = await services.GetRequiredService<ServedModels>().FindAsync(mapped.Model, context.RequestAborted)
                ?? throw ApiProblem.ModelNotFound(mapped.Model);
            if (served.Workers.Count == 0)
            {
                throw ModelUnavailable(served.Name);
            }

            var dispatch = new DispatchRequest
            {
                RequestId = requestId,
                Payer = payer,
                Model = served.Name,
                Generation = mapped.Generation,
                MaxCoefficient = mapped.MaxCoefficient,
                Timeout = mapped.Timeout,
            };
            var writer = new ResponseWriter(context, requestId, served.Name, chat, time.GetUtcNow().ToUnixTimeSeconds());
            var dispatcher = services.GetRequiredService<IDispatcher>();
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            timeout.CancelAfter(mapped.Timeout + TimeSpan.FromSeconds(5));
            await using var events = dispatcher.DispatchAsync(dispatch, timeout.Token).GetAsyncEnumerator(timeout.Token);

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
                                receipt.GatewayStart == default ? gatewayStart : receipt.GatewayStart, receipt.WorkerStart, receipt.WorkerEnd, gatewayEnd);
                            var usage = new UsageDto(receipt.PromptTokens, receipt.CompletionTokens, receipt.PromptTokens + receipt.CompletionTokens, receipt.TotalCostNanotons);
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

                            return;
                    }

                    more = await events.MoveNextAsync();
                }

                throw new InvalidOperationException("The dispatcher ended the answer without a receipt.");
            }
            catch (Exception ex) when (mapped.Stream && !context.RequestAborted.IsCancellationRequested)
            {
                // Headers are gone: the only honest signal left is an error event in the stream (as OpenAI sends).
                var problem = MapDispatchFailure(ex, context, logger, requestId) ?? new ApiProblem(StatusCodes.Status502BadGateway, "The answer was interrupted.", "server_error", null, "interrupted");
                status = problem.Status;
                ApiLog.StreamFailed(logger, requestId, problem.Code ?? problem.Type, ex);
                await writer.StreamErrorAsync(problem);
            }
            catch (Exception ex) when (!mapped.Stream && ex is not ApiProblem && MapDispatchFailure(ex, context, logger, requestId) is { } problem)
            {
                throw problem;
            }
        }
        catch (ApiProblem problem)
        {
            status = problem.Status;
            metrics.Refusal(problem.Code ?? problem.Type);
            ApiLog.Refused(logger, requestId, problem.Status, problem.Code ?? problem.Type);
            if (!context.Response.HasStarted)
            {
                await WriteProblemAsync(context, problem);
            }
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            status = 499;
            ApiLog.ClientGone(logger, requestId);
        }
        finally
        {
            metrics.Finished();
            metrics.Request(endpoint, status);
        }
    }

    /// <summary>The payer behind the bearer key; 401 without one or with an unknown one.</summary>
    private static async Task<AccountId> AuthenticateAsync(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (string.IsNullOrWhiteSpace(header))
        {
            throw ApiProblem.Unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer KEY' (./cocoon up prints the local key; the bot's /apikey creates one).");
        }

        const string scheme = "Bearer ";
        if (!header.StartsWith(scheme, StringComparison.OrdinalIgnoreCase))
        {
            throw ApiProblem.Unauthorized("The Authorization header must be 'Bearer KEY'.");
        }

        var owner = await context.RequestServices.GetRequiredService<ApiKeyStore>().ValidateAsync(header[scheme.Length..].Trim(), context.RequestAborted);
        return owner ?? throw ApiProblem.Unauthorized("Incorrect API key provided.");
    }

    /// <summary>Reads at most the configured number of bytes; larger bodies get 413 before they are buffered.</summary>
    private static async Task<T> ReadBodyAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, int limit)
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
        catch (BadHttpRequestException)
        {
            throw ApiProblem.Invalid("The request body could not be read.", null, "invalid_body");
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
    private static ApiProblem? MapDispatchFailure(Exception exception, HttpContext context, ILogger logger, string requestId)
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

    private static ApiProblem ModelUnavailable(string model) =>
        new(StatusCodes.Status503ServiceUnavailable, $"No attested worker serves '{model}' right now; retry shortly.", "server_error", "model", "model_unavailable") { RetryAfterSeconds = 5 };

    internal static Task WriteProblemAsync(HttpContext context, ApiProblem problem)
    {
        context.Response.StatusCode = problem.Status;
        if (problem.RetryAfterSeconds is { } retry)
        {
            context.Response.Headers.RetryAfter = retry.ToString(CultureInfo.InvariantCulture);
        }

        return context.Response.WriteAsJsonAsync(problem.ToEnvelope(), ApiJsonContext.Default.ErrorEnvelope, cancellationToken: CancellationToken.None);
    }

    private static string NewRequestId() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    internal static string Stamp(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private static string Finish(FinishReason reason) => reason switch
    {
        FinishReason.Stop => "stop",
        FinishReason.Length or FinishReason.ContextFull => "length",
        _ => "stop",
    };

    /// <summary>Writes one response, whole or as server-sent events, in OpenAI's shapes.</summary>
    private sealed class ResponseWriter(HttpContext context, string requestId, string model, bool chat, long created)
    {
        private static readonly byte[] DataPrefix = "data: "u8.ToArray();
        private static readonly byte[] EventEnd = "\n\n"u8.ToArray();
        private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

        private string Id => (chat ? "chatcmpl-" : "cmpl-") + requestId;

        private HttpResponse Response => context.Response;

        public async Task StartStreamAsync()
        {
            Response.StatusCode = StatusCodes.Status200OK;
            Response.ContentType = "text/event-stream; charset=utf-8";
            Response.Headers.CacheControl = "no-cache";
            Response.Headers["X-Accel-Buffering"] = "no";
            if (chat)
            {
                await EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [new ChunkChoice(0, new ChunkDelta(Role: "assistant", Content: string.Empty), null)], SystemFingerprint), ApiJsonContext.Default.ChatCompletionChunk);
            }
            else
            {
                await Response.StartAsync(context.RequestAborted);
            }
        }

        public Task PieceAsync(string text) => chat
            ? EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [new ChunkChoice(0, new ChunkDelta(Content: text), null)], SystemFingerprint), ApiJsonContext.Default.ChatCompletionChunk)
            : EventAsync(new TextCompletionResponse(Id, "text_completion", created, model, [new TextChoice(text, 0, null, null)]), ApiJsonContext.Default.TextCompletionResponse);

        public async Task FinishStreamAsync(string finish, UsageDto usage, CocoonInfo info, bool includeUsage)
        {
            if (chat)
            {
                await EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [new ChunkChoice(0, new ChunkDelta(), finish)], SystemFingerprint, Cocoon: info), ApiJsonContext.Default.ChatCompletionChunk);
                if (includeUsage)
                {
                    await EventAsync(new ChatCompletionChunk(Id, "chat.completion.chunk", created, model, [], SystemFingerprint, usage, info), ApiJsonContext.Default.ChatCompletionChunk);
                }
            }
            else
            {
                await EventAsync(new TextCompletionResponse(Id, "text_completion", created, model, [new TextChoice(string.Empty, 0, null, finish)], includeUsage ? usage : null, info), ApiJsonContext.Default.TextCompletionResponse);
            }

            await Response.Body.WriteAsync(Done, context.RequestAborted);
            await Response.Body.FlushAsync(context.RequestAborted);
        }

        public async Task StreamErrorAsync(ApiProblem problem)
        {
            if (context.RequestAborted.IsCancellationRequested)
            {
                return;
            }

            await EventAsync(problem.ToEnvelope(), ApiJsonContext.Default.ErrorEnvelope);
        }

        public void SetReceiptHeaders(CocoonInfo info)
        {
            var h = Response.Headers;
            h["X-Cocoon-Worker"] = info.WorkerId;
            h["X-Cocoon-Provider"] = info.ProviderId;
            h["X-Cocoon-Attestation"] = info.Attestation;
            h["X-Cocoon-Worker-Start"] = Stamp(info.WorkerStart);
            h["X-Cocoon-Worker-End"] = Stamp(info.WorkerEnd);
            h["X-Cocoon-Gateway-End"] = Stamp(info.GatewayEnd);
        }

        public Task WriteWholeAsync(string text, string finish, UsageDto usage, CocoonInfo info) => chat
            ? Response.WriteAsJsonAsync(
                new ChatCompletionResponse(Id, "chat.completion", created, model, [new ChatChoice(0, new AssistantMessage("assistant", text, null), finish, null)], usage, SystemFingerprint, info),
                ApiJsonContext.Default.ChatCompletionResponse, cancellationToken: context.RequestAborted)
            : Response.WriteAsJsonAsync(
                new TextCompletionResponse(Id, "text_completion", created, model, [new TextChoice(text, 0, null, finish)], usage, info),
                ApiJsonContext.Default.TextCompletionResponse, cancellationToken: context.RequestAborted);

        private const string SystemFingerprint = "cocoon";

        private async Task EventAsync<T>(T value, JsonTypeInfo<T> typeInfo)
        {
            await Response.Body.WriteAsync(DataPrefix, context.RequestAborted);
            await JsonSerializer.SerializeAsync(Response.Body, value, typeInfo, context.RequestAborted);
            await Response.Body.WriteAsync(EventEnd, context.RequestAborted);
            await Response.Body.FlushAsync(context.RequestAborted);
        }
    }
}
