/**
 * Renders a run of `field` wizard components with react-jsonschema-form, from the profile's
 * `parameters.schema`: enums become selects, integer bounds become min/max, long strings become
 * text areas, titles label the inputs and descriptions describe them. Validation is not rjsf's:
 * the wizard passes the contract's issues in as `extraErrors`, each shown beside its field with
 * `role="alert"` and referenced from the input's `aria-describedby`.
 */
import type { ParameterSchema, WorkloadProfile } from "@gpuaas/contract";
import Form from "@rjsf/core";
import {
  type ErrorSchema,
  errorId,
  type FieldErrorProps,
  type FieldTemplateProps,
  type ObjectFieldTemplateProps,
  type RJSFSchema,
  type UiSchema,
} from "@rjsf/utils";
import validator from "@rjsf/validator-ajv8";
import { useEffect, useRef } from "react";
import { formatValue, humanize } from "./format.js";
import { isResourceParameter, resourceBounds } from "./wizard-model.js";

/** Strings longer than this get a text area. */
const TEXTAREA_FROM_LENGTH = 200;

/** One field of a step as the form renders it. */
export interface FormField {
  readonly name: string;
  readonly required: boolean;
}

/**
 * The JSON Schema of a run of fields: each property as the profile declares it, with the
 * effective bounds of resource parameters, and without defaults except on selects (the wizard
 * fills those in, so a field the user clears stays clear instead of snapping back).
 */
export function toFormSchema(profile: WorkloadProfile, fields: readonly FormField[]): RJSFSchema {
  const properties: Record<string, RJSFSchema> = {};
  for (const field of fields) {
    const declared = profile.parameters.schema.properties[field.name];
    if (declared === undefined) continue;
    const { default: _default, examples: _examples, ...rest } = declared;
    const schema: Record<string, unknown> = {
      ...rest,
      title: declared.title ?? humanize(field.name),
      // A select keeps its default, or rjsf adds an empty choice the field cannot take.
      ...(declared.enum !== undefined && declared.default !== undefined
        ? { default: declared.default }
        : {}),
    };
    if (isResourceParameter(field.name)) {
      const { min, max } = resourceBounds(profile, field.name);
      schema.minimum = min;
      if (max !== undefined) schema.maximum = max;
    }
    properties[field.name] = schema as RJSFSchema;
  }
  return {
    type: "object",
    properties,
    required: fields.filter((field) => field.required).map((field) => field.name),
  };
}

/** Presentation hints: labels for enum values, text areas for long strings, default hints. */
export function toUiSchema(profile: WorkloadProfile, fields: readonly FormField[]): UiSchema {
  const ui: UiSchema = { "ui:order": fields.map((field) => field.name) };
  for (const field of fields) {
    const schema = profile.parameters.schema.properties[field.name] as ParameterSchema | undefined;
    if (schema === undefined) continue;
    const entry: Record<string, unknown> = {};
    if (schema.enum !== undefined)
      entry["ui:enumNames"] = schema.enum.map((v) => humanize(String(v)));
    if (schema.type === "string" && (schema.maxLength ?? 0) > TEXTAREA_FROM_LENGTH) {
      entry["ui:widget"] = "textarea";
      entry["ui:options"] = { rows: 3 };
    }
    if (
      schema.default !== undefined &&
      schema.default !== "" &&
      schema.enum === undefined &&
      schema.type !== "boolean"
    )
      entry["ui:help"] = `Default: ${formatValue(schema.default)}`;
    ui[field.name] = entry;
  }
  return ui;
}

function FieldTemplate(props: FieldTemplateProps) {
  const {
    id,
    label,
    children,
    errors,
    help,
    description,
    hidden,
    required,
    displayLabel,
    rawErrors,
    schema,
    formData,
  } = props;
  const invalid = (rawErrors?.length ?? 0) > 0;
  const wrapper = useRef<HTMLDivElement>(null);
  // rjsf's select and textarea widgets take no extra attributes; mark the control itself.
  useEffect(() => {
    const control = wrapper.current?.querySelector(`[id="${CSS.escape(id)}"]`);
    if (control === null || control === undefined) return;
    if (invalid) control.setAttribute("aria-invalid", "true");
    else control.removeAttribute("aria-invalid");
  });
  if (hidden) return <div hidden>{children}</div>;
  if (schema.type === "object") return children;
  const maxLength = typeof schema.maxLength === "number" ? schema.maxLength : undefined;
  const length = typeof formData === "string" ? formData.length : 0;
  return (
    <div ref={wrapper} className={`field${invalid ? " field-invalid" : ""}`} data-invalid={invalid}>
      {displayLabel && (
        <label htmlFor={id}>
          {label}
          {required ? (
            <span className="required-mark" aria-hidden="true">
              {" "}
              *
            </span>
          ) : (
            <span className="optional-mark"> (optional)</span>
          )}
        </label>
      )}
      {displayLabel && description}
      {children}
      <div className="field-foot">
        {help}
        {maxLength !== undefined && (
          <span className={`counter${length > maxLength ? " counter-over" : ""}`}>
            {length} / {maxLength}
          </span>
        )}
      </div>
      {errors}
    </div>
  );
}

function FieldErrorTemplate(props: FieldErrorProps) {
  const messages = (props.errors ?? []).filter((error) => Boolean(error));
  if (messages.length === 0) return null;
  return (
    <div id={errorId(props.fieldPathId)} className="field-error" role="alert">
      {messages.map((message, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: messages have no identity of their own
        <p key={index}>{message}</p>
      ))}
    </div>
  );
}

function ObjectFieldTemplate(props: ObjectFieldTemplateProps) {
  return (
    <div className="field-stack">
      {props.properties.map((property) => (
        <div key={property.name}>{property.content}</div>
      ))}
    </div>
  );
}

const templates = { FieldTemplate, FieldErrorTemplate, ObjectFieldTemplate };

/** A run of fields of one wizard step, rendered by rjsf. */
export function FieldForm(props: {
  readonly profile: WorkloadProfile;
  readonly idPrefix: string;
  readonly fields: readonly FormField[];
  readonly values: Readonly<Record<string, unknown>>;
  readonly errors: Readonly<Record<string, readonly string[]>>;
  readonly onChange: (values: Record<string, unknown>) => void;
}) {
  const { profile, fields } = props;
  const schema = toFormSchema(profile, fields);
  const uiSchema = toUiSchema(profile, fields);
  const formData: Record<string, unknown> = {};
  for (const field of fields) {
    if (props.values[field.name] !== undefined) formData[field.name] = props.values[field.name];
  }
  const extraErrors: Record<string, { __errors: string[] }> = {};
  for (const [name, messages] of Object.entries(props.errors))
    extraErrors[name] = { __errors: [...messages] };
  return (
    <Form
      schema={schema}
      uiSchema={uiSchema}
      formData={formData}
      validator={validator}
      templates={templates}
      idPrefix={props.idPrefix}
      tagName="div"
      showErrorList={false}
      noHtml5Validate
      extraErrors={extraErrors as ErrorSchema}
      onChange={(event) => {
        const next: Record<string, unknown> = {};
        const data = (event.formData ?? {}) as Record<string, unknown>;
        for (const field of fields) next[field.name] = data[field.name];
        props.onChange(next);
      }}
    >
      {/* rjsf draws a submit button unless given children; the wizard has its own buttons. */}
      {true}
    </Form>
  );
}
