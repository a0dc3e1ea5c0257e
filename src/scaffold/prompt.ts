import { PLUGIN_TYPES, type PluginType } from '../project/manifest.js';
import { messageOf } from '../errors.js';

/** Questions a terminal user answers for whatever flags did not give. Each check throws a message on a bad answer. */
export interface Questioner {
  text(message: string, options: { default?: string; check: (value: string) => unknown }): Promise<string>;
  type(message: string, defaultType?: PluginType): Promise<PluginType>;
  confirm(message: string): Promise<boolean>;
}

const TYPE_CHOICES: Record<PluginType, string> = {
  volume: 'volume   - docker volume create -d <plugin>',
  network: 'network  - docker network create -d <plugin>',
  logging: 'logging  - docker run --log-driver <plugin>',
  authz: 'authz    - dockerd --authorization-plugin <plugin>',
};

/** Questions asked with @inquirer/prompts on stdin/stderr (stdout stays for data). */
export async function inquirerQuestioner(): Promise<Questioner> {
  const { input, select, confirm } = await import('@inquirer/prompts');
  const context = { output: process.stderr };
  return {
    text: (message, options) =>
      input(
        {
          message,
          default: options.default,
          validate: (value: string) => {
            try {
              options.check(value);
              return true;
            } catch (error) {
              return messageOf(error);
            }
          },
        },
        context,
      ).then((value) => value.trim()),
    type: (message, defaultType) =>
      select<PluginType>({ message, default: defaultType, choices: PLUGIN_TYPES.map((value) => ({ value, name: TYPE_CHOICES[value] })) }, context),
    confirm: (message) => confirm({ message, default: false }, context),
  };
}
