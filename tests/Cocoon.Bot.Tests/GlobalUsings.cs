// The namespaces most of this project's tests open (the dispatch tests open all of them): written once here.
global using System.Runtime.CompilerServices;
global using Cocoon.Bot.Dispatch;
global using Cocoon.Engine.Protocol;
global using Cocoon.Network.Transport;
global using Cocoon.Testing;
global using Cocoon.Worker.Hosting;
global using Cocoon.Worker.Inference;
global using Microsoft.Extensions.DependencyInjection;
