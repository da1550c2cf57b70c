using Cocoon.Bot.Hosting;

if (CommandLine.IsCommand(args))
{
    return await CommandLine.RunAsync(args);
}

var builder = WebApplication.CreateBuilder(args);
builder.AddCocoonGateway();
var app = builder.Build();
app.MapCocoonGateway();
await app.RunAsync();
return 0;
