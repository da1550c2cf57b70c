using Cocoon.Engine.Protocol;

namespace Cocoon.Engine.Tests.Protocol;

public sealed class GenerationRulesTests
{
    private static GenerationRequest Chat(SamplingOptions? sampling = null, params ChatMessage[] messages) =>
        new() { Messages = messages.Length == 0 ? [new ChatMessage("user", "hi")] : messages, Sampling = sampling ?? new SamplingOptions() };

    [Fact]
    public void Defaults_pass()
    {
        Assert.Null(GenerationRules.Check(Chat()));
        Assert.Null(GenerationRules.Check(new GenerationRequest { Prompt = "x" }));
    }

    public static TheoryData<string, string> Broken => new()
    {
        { "max_tokens", "max_tokens" },
        { "temperature", "temperature" },
        { "temperature-nan", "temperature" },
        { "top_p", "top_p" },
        { "top_k", "top_k" },
        { "min_p", "min_p" },
        { "repetition_penalty", "repetition_penalty" },
        { "stop-count", "stop" },
        { "stop-empty", "stop" },
        { "stop-long", "stop" },
        { "empty-messages", "messages" },
        { "blank-messages", "messages" },
        { "role", "messages[0]" },
        { "both", "prompt" },
        { "empty-prompt", "prompt" },
    };

    [Theory]
    [MemberData(nameof(Broken))]
    public void Each_rule_names_the_openai_parameter(string broken, string param)
    {
        var s = new SamplingOptions();
        var request = broken switch
        {
            "max_tokens" => Chat(s with { MaxTokens = 0 }),
            "temperature" => Chat(s with { Temperature = 2.01f }),
            "temperature-nan" => Chat(s with { Temperature = float.NaN }),
            "top_p" => Chat(s with { TopP = 0 }),
            "top_k" => Chat(s with { TopK = -1 }),
            "min_p" => Chat(s with { MinP = 1.5f }),
            "repetition_penalty" => Chat(s with { RepetitionPenalty = 11 }),
            "stop-count" => Chat(s with { Stop = ["a", "b", "c", "d", "e"] }),
            "stop-empty" => Chat(s with { Stop = [""] }),
            "stop-long" => Chat(s with { Stop = [new string('x', 257)] }),
            "empty-messages" => new GenerationRequest { Messages = [] },
            "blank-messages" => Chat(null, new ChatMessage("system", " "), new ChatMessage("user", "\n")),
            "role" => Chat(null, new ChatMessage("tool", "x")),
            "both" => new GenerationRequest { Messages = [new ChatMessage("user", "x")], Prompt = "x" },
            _ => new GenerationRequest { Prompt = "" },
        };
        var violation = GenerationRules.Check(request);
        Assert.NotNull(violation);
        Assert.Equal(param, violation.Param);
        Assert.NotEmpty(violation.Message);
    }

    [Fact]
    public void The_limits_at_their_edges_pass()
    {
        var s = new SamplingOptions { Temperature = 2, TopP = 1, TopK = 0, MinP = 0, RepetitionPenalty = 10, Stop = ["a", "b", "c", new string('x', 256)] };
        Assert.Null(GenerationRules.Check(Chat(s)));
    }

    [Fact]
    public void Max_tokens_violation_uses_the_callers_spelling()
    {
        var violation = GenerationRules.Check(Chat(new SamplingOptions { MaxTokens = -3 }), "max_completion_tokens");
        Assert.Equal("max_completion_tokens", violation!.Param);
        Assert.Contains("'max_completion_tokens'", violation.Message);
    }

    [Fact]
    public void Context_fit_names_the_numbers()
    {
        Assert.Null(GenerationRules.CheckFit(48, 2000, 2048));
        Assert.Null(GenerationRules.CheckFit(10, 4096, 0)); // unknown context: not decided here

        var exact = GenerationRules.CheckFit(17, 2040, 2048);
        Assert.Equal("messages", exact!.Param);
        Assert.Equal("context_length_exceeded", exact.Code);
        Assert.Contains("2048 tokens", exact.Message);
        Assert.Contains("2057 tokens (17 in the prompt, 2040 in max_tokens)", exact.Message);

        var bound = GenerationRules.CheckFit(1, 2048, 2048, promptIsLowerBound: true);
        Assert.Equal("max_tokens", bound!.Param);
        Assert.Contains("more than 2049 tokens (at least 1 in the prompt, 2048 in max_tokens)", bound.Message);
    }

    [Fact]
    public void Context_refusal_code_round_trips_only_numbers()
    {
        var e = new ContextExceededException(17, 2040, 2048);
        Assert.Equal("context-exceeded:17:2040:2048", e.ReasonCode);
        Assert.True(e.ReasonCode.Length <= 64);
        var back = ContextExceededException.FromReasonCode(e.ReasonCode);
        Assert.Equal((17, 2040, 2048), (back!.PromptTokens, back.MaxTokens, back.ContextLength));
        Assert.Equal(e.Message, back.Message);
        Assert.Null(ContextExceededException.FromReasonCode("invalid-request"));
        Assert.Null(ContextExceededException.FromReasonCode("context-exceeded:1:x:3"));
        Assert.Null(ContextExceededException.FromReasonCode(new ContextExceededException(int.MaxValue, int.MaxValue, int.MaxValue).ReasonCode + ":1"));
    }
}
